"""The original's training augmentation: random scale/shift crop, horizontal flip, colour jitter and
PCA lighting. Every random draw comes from the `numpy.random.Generator` passed in, so a sample's
augmentation is a function of (seed, epoch, index) whatever the worker that builds it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# PCA of ImageNet colours (BGR pixel order as loaded), the original's lighting constants
EIG_VAL = np.array([0.2141788, 0.01817699, 0.00341571], dtype=np.float32)
EIG_VEC = np.array([[-0.58752847, -0.69563484, 0.41340352],
                    [-0.5832747, 0.00994535, -0.81221408],
                    [-0.56089297, 0.71832671, 0.41158938]], dtype=np.float32)
CROP_SCALES = np.arange(0.6, 1.4, 0.1)  # 0.6 .. 1.3


@dataclass(frozen=True)
class AugmentConfig:
    """The original's defaults (ctdet / multi_pose; ddd uses `ddd_prob` scale/shift only).

    random_crop: scale the crop by one of 0.6..1.3 and put its centre anywhere at least a border
    (128 px, halved until it fits) inside the image; otherwise shift by N(0, shift) and scale by
    N(1, scale) times the image size, clipped at 2 sigma.
    """

    enabled: bool = True
    random_crop: bool = True
    scale: float = 0.4
    shift: float = 0.1
    flip: float = 0.5
    color: bool = True
    ddd_prob: float = 0.5

    @staticmethod
    def off() -> "AugmentConfig":
        return AugmentConfig(enabled=False)


def crop_border(border: int, size: int) -> int:
    """The largest of border, border/2, ... that leaves room for a centre in the image."""
    i = 1
    while size - border // i <= border // i:
        i *= 2
    return border // i


def random_center_scale(rng: np.random.Generator, image_hw: tuple[int, int], center: np.ndarray, scale,
                        cfg: AugmentConfig) -> tuple[np.ndarray, object]:
    """A new crop (centre, scale) for a 2D task."""
    h, w = image_hw
    center = center.copy()
    if cfg.random_crop:
        scale = scale * float(rng.choice(CROP_SCALES))
        wb, hb = crop_border(128, w), crop_border(128, h)
        center[0] = rng.integers(wb, max(wb + 1, w - wb))
        center[1] = rng.integers(hb, max(hb + 1, h - hb))
    else:
        s = np.max(scale) if np.ndim(scale) else scale
        center[0] += s * np.clip(rng.standard_normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift)
        center[1] += s * np.clip(rng.standard_normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift)
        scale = scale * np.clip(rng.standard_normal() * cfg.scale + 1, 1 - cfg.scale, 1 + cfg.scale)
    return center, scale


def ddd_center_scale(rng: np.random.Generator, image_hw: tuple[int, int], center: np.ndarray, scale: np.ndarray,
                     cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """ddd's crop: scale by N(1, scale) and shift by N(0, shift) of the image size, both clipped."""
    h, w = image_hw
    scale = scale * np.clip(rng.standard_normal() * cfg.scale + 1, 1 - cfg.scale, 1 + cfg.scale)
    center = center.copy()
    center[0] += w * np.clip(rng.standard_normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift)
    center[1] += h * np.clip(rng.standard_normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift)
    return center, scale


def flip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Mirror xyxy boxes the way the original does (pixel-centre convention: x -> width - 1 - x)."""
    out = boxes.copy()
    out[:, [0, 2]] = width - boxes[:, [2, 0]] - 1
    return out


def flip_keypoints(keypoints: np.ndarray, width: int, flip_pairs) -> np.ndarray:
    """Mirror joints (N, J, 3) and swap left/right joints."""
    out = keypoints.copy()
    out[..., 0] = width - keypoints[..., 0] - 1
    for a, b in flip_pairs:
        out[:, [a, b]] = out[:, [b, a]]
    return out


def color_augment(rng: np.random.Generator, image: np.ndarray) -> None:
    """Brightness, contrast and saturation (±40 %, random order) then PCA lighting, in place.

    image: float32 HWC in [0, 1], BGR.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray_mean = float(gray.mean())
    for op in rng.permutation(3):
        alpha = 1.0 + rng.uniform(-0.4, 0.4)
        if op == 0:  # brightness
            image *= alpha
        elif op == 1:  # contrast: blend with the mean grey level
            image *= alpha
            image += (1 - alpha) * gray_mean
        else:  # saturation: blend with the grey image
            image *= alpha
            image += (1 - alpha) * gray[:, :, None]
    lighting = EIG_VEC @ (EIG_VAL * rng.normal(scale=0.1, size=3).astype(np.float32))
    image += lighting.astype(np.float32)

"""Image -> network input and network output -> image coordinates.

Every pre-processing mode is described by a `PreprocessSpec` (stored in our checkpoints) and
produces an `InputTransform` that maps points both ways. The original's affine mode reproduces its
arithmetic exactly: three float32 points through `cv2.getAffineTransform`, OpenCV's bilinear
`warpAffine`, and normalisation computed in float64 then cast to float32 (looked up per channel
from a table of the 256 values it can take, which is the same arithmetic done once).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, asdict
from typing import Literal

import cv2
import numpy as np
import torch

from centernet.errors import ConfigError

MAX_INPUT_SIDE = 4096   # network input sides above this take minutes per image on a CPU, then exhaust memory
COCO_MEAN_BGR = (0.408, 0.447, 0.470)   # the original demo path's rounded constants, BGR order
COCO_STD_BGR = (0.289, 0.274, 0.278)
KITTI_MEAN = (0.485, 0.456, 0.406)      # applied to BGR pixels as-is, like the original
KITTI_STD = (0.229, 0.224, 0.225)

ResizeMode = Literal["affine", "stretch", "pad_square"]


@dataclass(frozen=True)
class PreprocessSpec:
    """How an image becomes a network input.

    resize: "affine" is the original's warp around the image centre (scale max(h, w), or the
    image's own size with keep_res); "stretch" resizes the whole image to the input size; "pad_square"
    zero-pads the short side to a centred square (pad (long - short) // 2 each side) then resizes.
    Pixels are taken in `channel_order`, multiplied by `pixel_scale`, then (x - mean) / std.
    """

    resize: ResizeMode = "affine"
    input_size: tuple[int, int] = (512, 512)  # (h, w)
    keep_res: bool = False
    pad: int = 31                # keep-res input is (h | pad) + 1 by (w | pad) + 1
    channel_order: Literal["bgr", "rgb"] = "bgr"
    pixel_scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = COCO_MEAN_BGR
    std: tuple[float, float, float] = COCO_STD_BGR
    truncate_pixels: bool = False  # resize in float and truncate to integers (TF.js int32 inputs)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "PreprocessSpec":
        d = dict(d)
        for key in ("input_size", "mean", "std"):
            if key in d:
                d[key] = tuple(d[key])
        return PreprocessSpec(**d)

    def with_input_size(self, h: int, w: int) -> "PreprocessSpec":
        if max(int(h), int(w)) > MAX_INPUT_SIDE:
            raise ConfigError(f"--input-size {int(h)}x{int(w)} is too large: at most {MAX_INPUT_SIDE} a side (memory "
                              f"and time grow with the area: 8192 takes minutes per image, 100000 runs out of memory)")
        return PreprocessSpec(**{**asdict(self), "input_size": (int(h), int(w))})


@dataclass
class InputTransform:
    """The mapping of one image into the network input, invertible for points.

    `center` and `scale` are the original's (c, s) in affine mode; `matrix` maps image pixels to
    input pixels (2x3, float64) in every mode.
    """

    matrix: np.ndarray
    input_size: tuple[int, int]  # (h, w)
    image_size: tuple[int, int]  # (h, w)
    center: np.ndarray | None = None
    scale: np.ndarray | float | None = None
    meta: dict = field(default_factory=dict)

    def output_to_image(self, down_ratio: int) -> np.ndarray:
        """2x3 matrix from output-map cells to image pixels."""
        out_h, out_w = self.input_size[0] // down_ratio, self.input_size[1] // down_ratio
        if self.center is not None:  # built the original's way for identical float rounding
            return affine_transform_matrix(self.center, self.scale, (out_w, out_h), inverse=True)
        inp_to_img = invert_affine(self.matrix)
        return inp_to_img @ np.diag([down_ratio, down_ratio, 1.0])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes (a, b, c) a right angle at b, turning a - b by 90 degrees."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def affine_transform_matrix(center, scale, output_size, inverse: bool = False) -> np.ndarray:
    """The original's centre/scale affine (no rotation) as a 2x3 float64 matrix.

    `center` (x, y) maps to the output centre and the width `scale[0]` (or scalar scale) to the
    output width. Built from three float32 points, as the original does, so results match to the bit.
    """
    center = np.asarray(center, dtype=np.float32)
    scale = np.asarray([scale, scale] if np.isscalar(scale) or np.ndim(scale) == 0 else scale, dtype=np.float32)
    out_w, out_h = output_size
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + np.array([0.0, scale[0] * -0.5])
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = np.array([out_w * 0.5, out_h * 0.5], np.float32) + np.array([0, out_w * -0.5], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) points with a 2x3 matrix in float64; returns float64."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def input_size_for(spec: PreprocessSpec, image_hw: tuple[int, int]) -> tuple[int, int]:
    """Network input (h, w) for an image of size image_hw under spec."""
    if spec.keep_res and spec.resize == "affine":
        h, w = image_hw
        return ((h | spec.pad) + 1, (w | spec.pad) + 1)
    return tuple(spec.input_size)


def plan_transform(spec: PreprocessSpec, image_hw: tuple[int, int],
                   original_hw: tuple[int, int] | None = None) -> InputTransform:
    """The transform for an image of size image_hw; original_hw is its size before a test-scale resize."""
    h, w = image_hw
    orig_h, orig_w = original_hw or image_hw
    inp_h, inp_w = input_size_for(spec, image_hw)
    if spec.resize == "affine":
        if spec.keep_res:
            center = np.array([w // 2, h // 2], dtype=np.float32)
            scale = np.array([inp_w, inp_h], dtype=np.float32)
        else:
            # centre of the (resized) image, scale of the image before resizing: objects grow by k
            center = np.array([w / 2.0, h / 2.0], dtype=np.float32)
            scale = max(orig_h, orig_w) * 1.0
        matrix = affine_transform_matrix(center, scale, (inp_w, inp_h))
        return InputTransform(matrix, (inp_h, inp_w), (h, w), center, scale)
    if spec.resize == "stretch":
        matrix = np.array([[inp_w / w, 0.0, 0.0], [0.0, inp_h / h, 0.0]])
        return InputTransform(matrix, (inp_h, inp_w), (h, w))
    if spec.resize == "pad_square":
        pad = abs(h - w) // 2
        pad_x, pad_y = (pad, 0) if h > w else (0, pad)
        padded_h, padded_w = h + 2 * pad_y, w + 2 * pad_x
        sx, sy = inp_w / padded_w, inp_h / padded_h
        matrix = np.array([[sx, 0.0, pad_x * sx], [0.0, sy, pad_y * sy]])
        return InputTransform(matrix, (inp_h, inp_w), (h, w),
                              meta={"pad_x": pad_x, "pad_y": pad_y, "padded_hw": (padded_h, padded_w)})
    raise ValueError(f"unknown resize mode {spec.resize!r}")


def plan_ddd_transform(spec: PreprocessSpec, image_hw: tuple[int, int]) -> InputTransform:
    """The original's ddd input geometry: the whole image scaled by input_w / w about its centre
    (s = (w, h)), or with keep_res s = (input w, input h); always the spec's input size."""
    h, w = image_hw
    inp_h, inp_w = spec.input_size
    center = np.array([w / 2, h / 2], dtype=np.float32)
    scale = np.array([inp_w, inp_h] if spec.keep_res else [w, h], dtype=np.float32)
    return InputTransform(affine_transform_matrix(center, scale, (inp_w, inp_h)), (inp_h, inp_w), (h, w), center, scale)


def plan_task_transform(task: str, spec: PreprocessSpec, image_hw: tuple[int, int]) -> InputTransform:
    """The transform a task's Detector uses at scale 1 (ddd in affine mode has its own geometry)."""
    if task == "ddd" and spec.resize == "affine":
        return plan_ddd_transform(spec, image_hw)
    return plan_transform(spec, image_hw)


def warp_image(image: np.ndarray, spec: PreprocessSpec, tf: InputTransform) -> np.ndarray:
    """The uint8 (or float when truncating) HWC image in network-input geometry, channel order as loaded."""
    inp_h, inp_w = tf.input_size
    if spec.resize == "affine":
        return cv2.warpAffine(image, tf.matrix, (inp_w, inp_h), flags=cv2.INTER_LINEAR)
    src = image.astype(np.float64) if spec.truncate_pixels else image
    if spec.resize == "pad_square":
        px, py = tf.meta["pad_x"], tf.meta["pad_y"]
        src = cv2.copyMakeBorder(src, py, py, px, px, cv2.BORDER_CONSTANT, value=0)
    out = cv2.resize(src, (inp_w, inp_h), interpolation=cv2.INTER_LINEAR)
    return np.floor(out) if spec.truncate_pixels else out


def normalize(warped: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """HWC pixels -> normalised float32 HWC, in float64 first like the original."""
    if spec.channel_order == "rgb":
        warped = warped[..., ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(1, 1, 3)
    std = np.asarray(spec.std, dtype=np.float32).reshape(1, 1, 3)
    return ((warped * spec.pixel_scale - mean) / std).astype(np.float32)


@functools.lru_cache(maxsize=16)
def normalization_tables(pixel_scale: float, mean: tuple, std: tuple) -> tuple[np.ndarray, ...]:
    """Per network channel, the normalised float32 value of each of the 256 pixel levels, computed
    exactly as `normalize` computes it: a lookup then equals the arithmetic bit for bit."""
    levels = np.arange(256, dtype=np.uint8).reshape(256, 1)
    table = ((levels * pixel_scale - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)
    return tuple(np.ascontiguousarray(table[:, c]).reshape(1, 256) for c in range(3))


def normalize_chw(warped: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """HWC pixels -> normalised float32 CHW, equal to `normalize` (transposed) bit for bit.

    Each channel plane goes through its lookup table straight into the network's layout: about a
    tenth of the arithmetic's time at 512x512, which was most of the pre-processing stage.
    """
    if warped.dtype != np.uint8:
        if not spec.truncate_pixels:
            return np.ascontiguousarray(normalize(warped, spec).transpose(2, 0, 1))
        warped = warped.astype(np.uint8)  # truncated pixels are whole numbers in 0..255 (a bilinear mix of them)
    tables = normalization_tables(spec.pixel_scale, tuple(spec.mean), tuple(spec.std))
    planes = cv2.split(warped)
    if spec.channel_order == "rgb":
        planes = planes[::-1]
    out = np.empty((3, *warped.shape[:2]), np.float32)
    for c, plane in enumerate(planes):
        out[c] = cv2.LUT(plane, tables[c])
    return out


def preprocess(image: np.ndarray, spec: PreprocessSpec,
               scale_factor: float = 1.0) -> tuple[torch.Tensor, InputTransform]:
    """BGR uint8 HWC image -> (1, 3, H, W) float32 tensor and its transform.

    With scale_factor k != 1 the image is first resized to (int(w k), int(h k)), as the original's
    multi-scale test does, and the transform maps back to the original image.
    """
    image = as_bgr_uint8(image)
    if scale_factor != 1.0:
        h, w = image.shape[:2]
        image_k = cv2.resize(image, (int(w * scale_factor), int(h * scale_factor)))
    else:
        image_k = image
    tf = plan_transform(spec, image_k.shape[:2], image.shape[:2])
    if scale_factor != 1.0:
        tf.meta["scale_factor"] = scale_factor
        tf.image_size = image.shape[:2]
    return torch.from_numpy(normalize_chw(warp_image(image_k, spec, tf), spec))[None], tf


def as_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Accept grayscale, BGRA and 16-bit images: return 3-channel BGR uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def output_points_to_image(points: np.ndarray, tf: InputTransform, down_ratio: int) -> np.ndarray:
    """(..., 2) output-map points -> image pixels (float64 math, float32 result, as the original)."""
    mat = tf.output_to_image(down_ratio)
    out = apply_affine(points, mat).astype(np.float32)
    k = tf.meta.get("scale_factor", 1.0)
    return out / k if k != 1.0 else out  # float32 division, as the original

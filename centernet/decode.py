"""Pure decoding functions: head tensors in, `Detections` in output-map cells out.

A peak is a pixel equal to the max of its k x k neighbourhood (plateaus keep every equal pixel);
the top K peaks over all classes become detections. No NMS, as the paper.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .detections import Detections


def peak_mask_scores(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Scores with every non-peak set to 0 (heat: (B, C, H, W) probabilities)."""
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=(kernel - 1) // 2)
    return heat * (hmax == heat).to(heat.dtype)


def topk_peaks(heat: torch.Tensor, k: int):
    """Top-k over classes and pixels of a peak-masked heatmap.

    Returns scores, classes, ys, xs and flat pixel indices, each (B, K) with K = min(k, C*H*W).
    """
    b, c, h, w = heat.shape
    k = min(k, c * h * w)
    scores, index = torch.topk(heat.reshape(b, -1), k)
    classes = torch.div(index, h * w, rounding_mode="floor")
    pixel = index - classes * (h * w)
    ys = torch.div(pixel, w, rounding_mode="floor")
    xs = pixel - ys * w
    return scores, classes, ys, xs, pixel


def gather_at(feature: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Values of a (B, C, H, W) map at flat pixel indices (B, K) -> (B, K, C)."""
    b, c = feature.shape[:2]
    flat = feature.reshape(b, c, -1)
    return torch.gather(flat, 2, pixel[:, None, :].expand(b, c, pixel.shape[1])).permute(0, 2, 1)


def ctdet_decode_batch(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None = None, k: int = 100,
                       box_mode: str = "size", heat_is_logits: bool = True, peak_kernel: int = 3) -> list[Detections]:
    """2D boxes from ctdet heads, one `Detections` per image, coordinates in output-map cells.

    box_mode "size": wh is (width, height) around the centre (x + reg_x, y + reg_y), as the original.
    box_mode "ltrb": wh is the distances (left, top, right, bottom) from the centre (default models).
    """
    heat = torch.sigmoid(hm) if heat_is_logits else hm
    scores, classes, ys, xs, pixel = topk_peaks(peak_mask_scores(heat, peak_kernel), k)
    xs, ys = xs.to(heat.dtype), ys.to(heat.dtype)
    if reg is not None:
        offset = gather_at(reg, pixel)
        xs, ys = xs + offset[..., 0], ys + offset[..., 1]
    size = gather_at(wh, pixel).to(heat.dtype)
    if box_mode == "size":
        half_w, half_h = size[..., 0] / 2, size[..., 1] / 2
        boxes = torch.stack([xs - half_w, ys - half_h, xs + half_w, ys + half_h], dim=-1)
    elif box_mode == "ltrb":
        boxes = torch.stack([xs - size[..., 0], ys - size[..., 1], xs + size[..., 2], ys + size[..., 3]], dim=-1)
    else:
        raise ValueError(f"unknown box_mode {box_mode!r}: use 'size' or 'ltrb'")
    out = []
    for i in range(hm.shape[0]):
        keep = scores[i] > 0  # non-peaks were zeroed: they are not detections
        out.append(Detections(boxes[i][keep], scores[i][keep], classes[i][keep]))
    return out


def ctdet_decode(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None = None, k: int = 100,
                 box_mode: str = "size", heat_is_logits: bool = True) -> Detections:
    """`ctdet_decode_batch` for a single image (a batch of one or a (C, H, W) map)."""
    if hm.dim() == 3:
        hm, wh = hm[None], wh[None]
        reg = reg[None] if reg is not None else None
    if hm.shape[0] != 1:
        raise ValueError("ctdet_decode takes one image; use ctdet_decode_batch for a batch")
    return ctdet_decode_batch(hm, wh, reg, k, box_mode, heat_is_logits)[0]

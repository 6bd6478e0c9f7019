"""Pure decoding functions: head tensors in, `Detections` in output-map cells out.

A peak is a pixel equal to the max of its k x k neighbourhood (plateaus keep every equal pixel);
the top K peaks over all classes become detections. No NMS, as the paper.

Each task has a fixed-shape decoder (`*_decode_fixed` -> `FixedDetections`, (B, K, ...) tensors: no
host sync, no boolean indexing, no branching on values, so a CUDA graph can capture it) and the
public `*_decode_batch`, which is that followed by the host-side split into one `Detections` per image.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from centernet.detections import Detections, FixedDetections

BOX_MODES = ("size", "ltrb")


def peak_mask_scores(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Scores with every non-peak set to 0 (heat: (B, C, H, W) probabilities), in channels_last.

    The max-pool runs on channels_last memory: equal results, and on CPU over 10x faster than on an
    NCHW map with 80 classes (`topk_peaks` reads either layout).
    """
    heat = heat.contiguous(memory_format=torch.channels_last)
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=(kernel - 1) // 2)
    return heat * (hmax == heat).to(heat.dtype)


def is_channels_last(t: torch.Tensor) -> bool:
    """A 4-d tensor laid out (B, H, W, C) in memory (and not also plain contiguous, as 1-channel maps are)."""
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def topk_peaks(heat: torch.Tensor, k: int):
    """Top-k over classes and pixels of a peak-masked heatmap (either memory layout).

    Returns scores, classes, ys, xs and flat pixel indices, each (B, K) with K = min(k, C*H*W),
    ordered by score; equal scores in the order a class-major `torch.topk` gives them (which need not
    be (class, pixel) order).
    """
    b, c, h, w = heat.shape
    k = min(k, c * h * w)
    if is_channels_last(heat):
        # top-k straight on the (B, H*W*C) memory: no transposing copy of the whole map
        scores, index = torch.topk(heat.permute(0, 2, 3, 1).reshape(b, -1), k)
        pixel = torch.div(index, c, rounding_mode="floor")
        classes = index - pixel * c
        # the order a class-major top-k gives: by score, then by (class, pixel) among equal scores
        by_index = torch.argsort(classes * (h * w) + pixel, dim=1)
        scores, pixel, classes = (t.gather(1, by_index) for t in (scores, pixel, classes))
        scores, by_score = torch.sort(scores, dim=1, descending=True, stable=True)
        pixel, classes = pixel.gather(1, by_score), classes.gather(1, by_score)
    else:
        scores, index = torch.topk(heat.reshape(b, -1), k)
        classes = torch.div(index, h * w, rounding_mode="floor")
        pixel = index - classes * (h * w)
    ys = torch.div(pixel, w, rounding_mode="floor")
    xs = pixel - ys * w
    return scores, classes, ys, xs, pixel


def peaks_from_flat_index(scores: torch.Tensor, index: torch.Tensor, heat_shape) -> tuple:
    """`topk_peaks`' result from a top-K found elsewhere (the openvino graph): scores (B, K) and flat
    indices (B, K) into a (C, H, W) map -> scores, classes, ys, xs, flat pixel indices, ordered by
    score and equal scores by (class, pixel) whatever order the top-K left them in."""
    h, w = heat_shape[-2:]
    index, by_index = torch.sort(index.long(), dim=1)
    scores, by_score = torch.sort(scores.gather(1, by_index), dim=1, descending=True, stable=True)
    index = index.gather(1, by_score)
    classes = torch.div(index, h * w, rounding_mode="floor")
    pixel = index - classes * (h * w)
    ys = torch.div(pixel, w, rounding_mode="floor")
    return scores, classes, ys, pixel - ys * w, pixel


def gather_at(feature: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Values of a (B, C, H, W) map at flat pixel indices (B, K) -> (B, K, C)."""
    b, c = feature.shape[:2]
    flat = feature.reshape(b, c, -1)
    return torch.gather(flat, 2, pixel[:, None, :].expand(b, c, pixel.shape[1])).permute(0, 2, 1)


def _centre_size_boxes(cx: torch.Tensor, cy: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """xyxy boxes centre -/+ (w, h) / 2, computed as the original does."""
    half_w, half_h = size[..., 0] / 2, size[..., 1] / 2
    return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def ctdet_decode_fixed(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None = None, k: int = 100,
                       box_mode: str = "size", heat_is_logits: bool = True, peak_kernel: int = 3,
                       peaks=None, gather=gather_at) -> FixedDetections:
    """`ctdet_decode_batch` at a fixed shape: boxes (B, K, 4), scores and labels (B, K), in cells.

    `peaks` optionally supplies the (scores, classes, ys, xs, pixel) of a faster peak finder (the
    CuPy kernel) in place of `topk_peaks`; `gather` likewise replaces `gather_at` (kernels/gather.cu).
    """
    if box_mode not in BOX_MODES:
        raise ValueError(f"unknown box_mode {box_mode!r}: use 'size' or 'ltrb'")
    if peaks is None:
        heat = torch.sigmoid(hm) if heat_is_logits else hm
        peaks = topk_peaks(peak_mask_scores(heat, peak_kernel), k)
    scores, classes, ys, xs, pixel = peaks
    xs, ys = xs.to(hm.dtype), ys.to(hm.dtype)
    if reg is not None:
        offset = gather(reg, pixel)
        xs, ys = xs + offset[..., 0], ys + offset[..., 1]
    size = gather(wh, pixel).to(hm.dtype)
    if box_mode == "size":
        boxes = _centre_size_boxes(xs, ys, size)
    else:
        boxes = torch.stack([xs - size[..., 0], ys - size[..., 1], xs + size[..., 2], ys + size[..., 3]], dim=-1)
    return FixedDetections(boxes, scores, classes)


def ctdet_decode_batch(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None = None, k: int = 100,
                       box_mode: str = "size", heat_is_logits: bool = True, peak_kernel: int = 3) -> list[Detections]:
    """2D boxes from ctdet heads, one `Detections` per image, coordinates in output-map cells.

    box_mode "size": wh is (width, height) around the centre (x + reg_x, y + reg_y), as the original.
    box_mode "ltrb": wh is the distances (left, top, right, bottom) from the centre (default models).
    """
    return ctdet_decode_fixed(hm, wh, reg, k, box_mode, heat_is_logits, peak_kernel).split()


def _batch_of_one(task: str, heads: list) -> list:
    """One image's heads as a batch of one ((C, H, W) maps gain a batch axis; None stays None)."""
    if heads[0].dim() == 3:
        heads = [t[None] if t is not None else None for t in heads]
    if heads[0].shape[0] != 1:
        raise ValueError(f"{task}_decode takes one image; use {task}_decode_batch for a batch")
    return heads


def ctdet_decode(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None = None, k: int = 100,
                 box_mode: str = "size", heat_is_logits: bool = True) -> Detections:
    """`ctdet_decode_batch` for a single image (a batch of one or a (C, H, W) map)."""
    hm, wh, reg = _batch_of_one("ctdet", [hm, wh, reg])
    return ctdet_decode_batch(hm, wh, reg, k, box_mode, heat_is_logits)[0]


def topk_per_channel(heat: torch.Tensor, k: int):
    """Top-k pixels of every channel separately: scores, ys, xs, flat pixel indices, each (B, C, K)."""
    b, c, h, w = heat.shape
    k = min(k, h * w)
    scores, pixel = torch.topk(heat.reshape(b, c, -1), k)
    ys = torch.div(pixel, w, rounding_mode="floor")
    return scores, ys, pixel - ys * w, pixel


def multi_pose_decode_fixed(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None, hps: torch.Tensor,
                            hm_hp: torch.Tensor | None = None, hp_offset: torch.Tensor | None = None, k: int = 100,
                            heat_is_logits: bool = True, snap_threshold: float = 0.1, peaks=None,
                            gather=gather_at) -> FixedDetections:
    """`multi_pose_decode_batch` at a fixed shape: boxes (B, K, 4), keypoints (B, K, J, 2),
    keypoint_scores (B, K, J), scores and labels (B, K). `peaks`, `gather` as in `ctdet_decode_fixed`."""
    if peaks is None:
        peaks = topk_peaks(peak_mask_scores(torch.sigmoid(hm) if heat_is_logits else hm), k)
    scores, classes, ys, xs, pixel = peaks
    b, kk = scores.shape
    xs, ys = xs.to(hm.dtype), ys.to(hm.dtype)
    num_joints = hps.shape[1] // 2
    joints = gather(hps, pixel).reshape(b, kk, num_joints, 2) + torch.stack([xs, ys], -1)[:, :, None, :]
    cx, cy = xs, ys
    if reg is not None:
        offset = gather(reg, pixel)
        cx, cy = xs + offset[..., 0], ys + offset[..., 1]
    size = gather(wh, pixel)
    boxes = _centre_size_boxes(cx, cy, size)
    joint_scores = torch.zeros(b, kk, num_joints, dtype=hm.dtype, device=hm.device)
    if hm_hp is not None:
        joints, joint_scores = _snap_joints(joints, boxes, torch.sigmoid(hm_hp) if heat_is_logits else hm_hp,
                                            hp_offset, k, snap_threshold, gather)
    return FixedDetections(boxes, scores, classes, keypoints=joints, keypoint_scores=joint_scores)


def multi_pose_decode_batch(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None, hps: torch.Tensor,
                            hm_hp: torch.Tensor | None = None, hp_offset: torch.Tensor | None = None, k: int = 100,
                            heat_is_logits: bool = True, snap_threshold: float = 0.1) -> list[Detections]:
    """People with joints from multi_pose heads, one `Detections` per image, in output-map cells.

    Boxes as ctdet. Joints are regressed from the integer centre: (x, y) + hps. With `hm_hp`, each
    joint snaps to the nearest of the top-K peaks of its own heatmap (peaks scoring <= threshold
    are ignored) unless that peak lies outside the person's box, is farther than
    0.3 * max(box w, box h) or scores < threshold: then the regressed position stays (the original's
    rule). `keypoint_scores` is the snapped peak's score, else the joint heatmap at the regressed
    position (0 without `hm_hp`). `heat_is_logits` applies to both `hm` and `hm_hp`.
    """
    return multi_pose_decode_fixed(hm, wh, reg, hps, hm_hp, hp_offset, k, heat_is_logits, snap_threshold).split()


def _snap_joints(joints, boxes, hp_heat, hp_offset, k, threshold, gather=gather_at):
    """The original's nearest-peak snapping; joints (B, K, J, 2), boxes (B, K, 4) -> joints, scores."""
    b, kk, num_joints, _ = joints.shape
    h, w = hp_heat.shape[2:]
    peak_scores, peak_ys, peak_xs, peak_pixel = topk_per_channel(peak_mask_scores(hp_heat), k)  # (B, J, Kp)
    peak_xs, peak_ys = peak_xs.to(hp_heat.dtype), peak_ys.to(hp_heat.dtype)
    if hp_offset is not None:
        off = gather(hp_offset, peak_pixel.reshape(b, -1)).reshape(b, num_joints, -1, 2)
        peak_xs, peak_ys = peak_xs + off[..., 0], peak_ys + off[..., 1]
    valid = peak_scores > threshold
    peak_scores = torch.where(valid, peak_scores, torch.full_like(peak_scores, -1.0))
    peaks = torch.stack([torch.where(valid, peak_xs, torch.full_like(peak_xs, -10000.0)),
                         torch.where(valid, peak_ys, torch.full_like(peak_ys, -10000.0))], -1)  # (B, J, Kp, 2)
    regressed = joints.permute(0, 2, 1, 3)  # (B, J, K, 2)
    dist = ((regressed[:, :, :, None, :] - peaks[:, :, None, :, :]) ** 2).sum(dim=4) ** 0.5  # (B, J, K, Kp)
    min_dist, nearest = dist.min(dim=3)
    chosen_score = peak_scores.gather(2, nearest)
    chosen = peaks.gather(2, nearest[..., None].expand(b, num_joints, kk, 2))
    x1, y1, x2, y2 = (boxes[..., i][:, None, :] for i in range(4))  # (B, 1, K)
    stays = ((chosen[..., 0] < x1) | (chosen[..., 0] > x2) | (chosen[..., 1] < y1) | (chosen[..., 1] > y2)
             | (chosen_score < threshold) | (min_dist > torch.max(y2 - y1, x2 - x1) * 0.3))
    snapped = torch.where(stays[..., None], regressed, chosen)
    # confidence of a joint left where it was regressed: its heatmap at the nearest cell
    ix = regressed[..., 0].round().clamp(0, w - 1).long()
    iy = regressed[..., 1].round().clamp(0, h - 1).long()
    at_regressed = hp_heat.reshape(b, num_joints, -1).gather(2, iy * w + ix)
    scores = torch.where(stays, at_regressed, chosen_score)
    return snapped.permute(0, 2, 1, 3), scores.permute(0, 2, 1)


def multi_pose_decode(hm, wh, reg, hps, hm_hp=None, hp_offset=None, k: int = 100,
                      heat_is_logits: bool = True) -> Detections:
    """`multi_pose_decode_batch` for one image (a batch of one or (C, H, W) maps)."""
    heads = _batch_of_one("multi_pose", [hm, wh, reg, hps, hm_hp, hp_offset])
    return multi_pose_decode_batch(*heads, k=k, heat_is_logits=heat_is_logits)[0]


def depth_from_output(dep: torch.Tensor) -> torch.Tensor:
    """Metres from the raw `dep` head: 1 / (sigmoid + 1e-6) - 1, as the original."""
    return 1.0 / (torch.sigmoid(dep) + 1e-6) - 1.0


def alpha_from_bins(rot: torch.Tensor) -> torch.Tensor:
    """Observation angle from the 8 `rot` values (bin 1: logits, sin, cos; bin 2 likewise), (..., 8) -> (...).

    Bin 1 wins when its second logit is larger than bin 2's (rot[1] > rot[5]); its angle is
    atan2(sin, cos) - pi/2, bin 2's is atan2(sin, cos) + pi/2 (not wrapped).
    """
    alpha1 = torch.atan2(rot[..., 2], rot[..., 3]) + (-0.5 * math.pi)
    alpha2 = torch.atan2(rot[..., 6], rot[..., 7]) + (0.5 * math.pi)
    return torch.where(rot[..., 1] > rot[..., 5], alpha1, alpha2)


def ddd_decode_fixed(hm: torch.Tensor, dep: torch.Tensor, rot: torch.Tensor, dim: torch.Tensor,
                     wh: torch.Tensor | None = None, reg: torch.Tensor | None = None, k: int = 100,
                     heat_is_logits: bool = True, peaks=None, gather=gather_at) -> FixedDetections:
    """`ddd_decode_batch` at a fixed shape: boxes (B, K, 4), dims (B, K, 3), depth, alpha, scores and
    labels (B, K). `peaks`, `gather` as in `ctdet_decode_fixed`."""
    if peaks is None:
        peaks = topk_peaks(peak_mask_scores(torch.sigmoid(hm) if heat_is_logits else hm), k)
    scores, classes, ys, xs, pixel = peaks
    xs, ys = xs.to(hm.dtype), ys.to(hm.dtype)
    if reg is not None:
        offset = gather(reg, pixel)
        xs, ys = xs + offset[..., 0], ys + offset[..., 1]
    size = gather(wh, pixel) if wh is not None else torch.zeros(*xs.shape, 2, dtype=xs.dtype, device=xs.device)
    boxes = _centre_size_boxes(xs, ys, size)
    depth = gather(depth_from_output(dep), pixel)[..., 0]
    alpha = alpha_from_bins(gather(rot, pixel))
    dims = gather(dim, pixel)
    return FixedDetections(boxes, scores, classes, depth=depth, dims=dims, alpha=alpha)


def ddd_decode_batch(hm: torch.Tensor, dep: torch.Tensor, rot: torch.Tensor, dim: torch.Tensor,
                     wh: torch.Tensor | None = None, reg: torch.Tensor | None = None, k: int = 100,
                     heat_is_logits: bool = True) -> list[Detections]:
    """3D objects from ddd heads, one `Detections` per image, in output-map cells.

    boxes are the 2D boxes (centre (x + reg) -/+ wh / 2; zero size without `wh`), depth in metres,
    dims (h, w, l) as regressed, alpha the observation angle. The 3D location and rotation_y need
    the camera and image pixels: the `Detector` adds them.
    """
    return ddd_decode_fixed(hm, dep, rot, dim, wh, reg, k, heat_is_logits).split()


def ddd_decode(hm, dep, rot, dim, wh=None, reg=None, k: int = 100, heat_is_logits: bool = True) -> Detections:
    """`ddd_decode_batch` for one image (a batch of one or (C, H, W) maps)."""
    heads = _batch_of_one("ddd", [hm, dep, rot, dim, wh, reg])
    return ddd_decode_batch(*heads, k=k, heat_is_logits=heat_is_logits)[0]


def decode_fixed(task: str, outputs: dict, k: int = 100, box_mode: str = "size", heat_is_logits: bool = True,
                 peaks=None, gather=gather_at) -> FixedDetections:
    """The fixed-shape decoder of a CenterNet task, fed from its heads by their official names."""
    o = outputs
    if task == "ctdet":
        return ctdet_decode_fixed(o["hm"], o["wh"], o.get("reg"), k, box_mode, heat_is_logits, peaks=peaks,
                                  gather=gather)
    if task == "multi_pose":
        return multi_pose_decode_fixed(o["hm"], o["wh"], o.get("reg"), o["hps"], o.get("hm_hp"), o.get("hp_offset"),
                                       k, heat_is_logits, peaks=peaks, gather=gather)
    if task == "ddd":
        return ddd_decode_fixed(o["hm"], o["dep"], o["rot"], o["dim"], o.get("wh"), o.get("reg"), k, heat_is_logits,
                                peaks=peaks, gather=gather)
    raise ValueError(f"no decoder for task {task!r}: use ctdet, multi_pose or ddd")

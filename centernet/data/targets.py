"""Training targets: boxes, joints and 3D fields in output-map cells -> the heads' ground truth.

Pure numpy, one function per task. Boxes come in already mapped to the output map (stride 4) and
clipped to it; the dataset does the geometry. Per object the class heatmap gets a Gaussian at the
integer centre, with the original's radius rule (the radius at which a box shifted by it still has
IoU >= 0.7 with the true box); size and sub-pixel offset are stored at that integer centre, indexed
by `ind` (flat pixel index) and enabled by `reg_mask`. Arrays hold at most `max_objects` objects.
Key names are the original's, so losses read `batch["hm"]`, `batch["wh"]`, ...
"""
from __future__ import annotations

import math

import numpy as np

MAX_OBJECTS = 128
MIN_OVERLAP = 0.7
IGNORE_HEAT = 0.9999  # below 1: not a positive, and its (1 - gt)^4 weight makes it ~ignored as a negative


def gaussian_radius(height: float, width: float, min_overlap: float = MIN_OVERLAP) -> float:
    """The largest centre shift keeping IoU >= min_overlap, the smallest of CornerNet's three cases."""
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def object_radius(height: float, width: float) -> int:
    """The integer Gaussian radius of a box (size rounded up first, as the original's 2D tasks)."""
    return max(0, int(gaussian_radius(math.ceil(height), math.ceil(width))))


def gaussian_2d(radius: int) -> np.ndarray:
    """A (2r+1)^2 unnormalised Gaussian with sigma = diameter / 6, peak exactly 1."""
    diameter = 2 * radius + 1
    sigma = diameter / 6
    r = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(r[None, :] ** 2 + r[:, None] ** 2) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def draw_gaussian(heatmap: np.ndarray, center: tuple[int, int], radius: int) -> None:
    """Element-wise max of `heatmap` (H, W) with a Gaussian at the integer `center` (x, y), in place."""
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape
    g = gaussian_2d(radius)
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    if min(left + right, top + bottom) <= 0:
        return
    region = heatmap[y - top:y + bottom, x - left:x + right]
    patch = g[radius - top:radius + bottom, radius - left:radius + right]
    if region.size and patch.size:
        np.maximum(region, patch.astype(heatmap.dtype), out=region)


def sized_boxes(boxes, max_objects: int):
    """(index, box, height, width) of each of the first `max_objects` boxes that has an area."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    for k in range(min(len(boxes), max_objects)):
        box = boxes[k]
        h, w = box[3] - box[1], box[2] - box[0]
        if h > 0 and w > 0:
            yield k, box, h, w


def _centre(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ct = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)
    return ct, ct.astype(np.int32)


def ctdet_targets(boxes: np.ndarray, labels: np.ndarray, num_classes: int, output_hw: tuple[int, int],
                  max_objects: int = MAX_OBJECTS) -> dict[str, np.ndarray]:
    """Heatmap, size and offset targets of 2D boxes (N, 4) xyxy in output cells, labels (N,) 0-based.

    Returns hm (C, H, W), wh (M, 2), reg (M, 2), ind (M,), reg_mask (M,) with M = max_objects.
    Boxes with no area are skipped; objects past max_objects are dropped.
    """
    out_h, out_w = output_hw
    hm = np.zeros((num_classes, out_h, out_w), dtype=np.float32)
    wh = np.zeros((max_objects, 2), dtype=np.float32)
    reg = np.zeros((max_objects, 2), dtype=np.float32)
    ind = np.zeros(max_objects, dtype=np.int64)
    reg_mask = np.zeros(max_objects, dtype=np.uint8)
    for k, box, h, w in sized_boxes(boxes, max_objects):
        ct, ct_int = _centre(box)
        draw_gaussian(hm[int(labels[k])], ct_int, object_radius(h, w))
        wh[k] = w, h
        ind[k] = ct_int[1] * out_w + ct_int[0]
        reg[k] = ct - ct_int
        reg_mask[k] = 1
    return {"hm": hm, "wh": wh, "reg": reg, "ind": ind, "reg_mask": reg_mask}


def multi_pose_targets(boxes: np.ndarray, keypoints: np.ndarray, output_hw: tuple[int, int],
                       max_objects: int = MAX_OBJECTS) -> dict[str, np.ndarray]:
    """ctdet targets of person boxes (one class) plus joint targets.

    keypoints (N, J, 3): x, y in output cells and visibility (0 = not labelled). Per person:
    hps (M, 2J) joint offsets from the integer centre with hps_mask; per joint a Gaussian on
    hm_hp (J, H, W) at its integer position (the person's radius), hp_offset (M*J, 2) sub-pixel
    offsets at hp_ind with hp_mask. Joints outside the map are not supervised. A person with no
    labelled joint keeps its heatmap peak but no size/offset regression (reg_mask 0), as the original.
    """
    out_h, out_w = output_hw
    keypoints = np.asarray(keypoints, dtype=np.float32)
    num_joints = keypoints.shape[1] if keypoints.ndim == 3 else 17
    t = ctdet_targets(boxes, np.zeros(len(boxes), dtype=np.int64), 1, output_hw, max_objects)
    hm_hp = np.zeros((num_joints, out_h, out_w), dtype=np.float32)
    hps = np.zeros((max_objects, 2 * num_joints), dtype=np.float32)
    hps_mask = np.zeros((max_objects, 2 * num_joints), dtype=np.uint8)
    hp_offset = np.zeros((max_objects * num_joints, 2), dtype=np.float32)
    hp_ind = np.zeros(max_objects * num_joints, dtype=np.int64)
    hp_mask = np.zeros(max_objects * num_joints, dtype=np.int64)
    for k, box, h, w in sized_boxes(boxes, max_objects):
        _, ct_int = _centre(box)
        pts = keypoints[k]
        if pts[:, 2].sum() == 0:
            t["reg_mask"][k] = 0
        radius = object_radius(h, w)
        for j in range(num_joints):
            x, y, v = pts[j]
            if v > 0 and 0 <= x < out_w and 0 <= y < out_h:
                pt = np.array([x, y], dtype=np.float32)
                pt_int = pt.astype(np.int32)
                hps[k, 2 * j:2 * j + 2] = pt - ct_int
                hps_mask[k, 2 * j:2 * j + 2] = 1
                hp_offset[k * num_joints + j] = pt - pt_int
                hp_ind[k * num_joints + j] = pt_int[1] * out_w + pt_int[0]
                hp_mask[k * num_joints + j] = 1
                draw_gaussian(hm_hp[j], pt_int, radius)
    t.update(hps=hps, hps_mask=hps_mask, hm_hp=hm_hp, hp_offset=hp_offset, hp_ind=hp_ind, hp_mask=hp_mask)
    return t


def alpha_to_bins(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The original's two overlapping orientation bins: (bin flags (2,), residuals (2,)).

    Bin 1 covers alpha outside (pi/6, 5pi/6) with centre -pi/2; bin 2 covers alpha outside
    (-5pi/6, -pi/6) with centre +pi/2. An angle near 0 or pi is in both.
    """
    rotbin = np.zeros(2, dtype=np.int64)
    rotres = np.zeros(2, dtype=np.float32)
    if alpha < np.pi / 6 or alpha > 5 * np.pi / 6:
        rotbin[0], rotres[0] = 1, alpha - (-0.5 * np.pi)
    if alpha > -np.pi / 6 or alpha < -5 * np.pi / 6:
        rotbin[1], rotres[1] = 1, alpha - (0.5 * np.pi)
    return rotbin, rotres


def alpha_to_rot8(alpha: float) -> np.ndarray:
    """The 8 `rot` channels a perfect prediction of alpha would have (bin logits, sin, cos per bin)."""
    rotbin, rotres = alpha_to_bins(alpha)
    out = np.array([0, 0, 0, 1, 0, 0, 0, 1], dtype=np.float32)
    for b in range(2):
        if rotbin[b]:
            out[4 * b + 1] = 1  # the "in this bin" logit beats the "not" logit (0)
            out[4 * b + 2], out[4 * b + 3] = np.sin(rotres[b]), np.cos(rotres[b])
    return out


def ddd_targets(boxes: np.ndarray, labels: np.ndarray, alpha: np.ndarray, depth: np.ndarray, dims: np.ndarray,
                num_classes: int, output_hw: tuple[int, int], ignore_boxes: np.ndarray | None = None,
                ignore_classes: list | None = None, max_objects: int = MAX_OBJECTS,
                geometry_augmented: bool = False) -> dict[str, np.ndarray]:
    """Heatmap, 2D size/offset, depth, 8-channel orientation and 3D-size targets of KITTI objects.

    Radius from the unrounded box size, as the original's ddd. `ignore_boxes` (K, 4) with
    `ignore_classes` (K lists of class indices) mark "don't care" regions: a Gaussian at their centre
    with the centre set to 0.9999, which the focal loss all but ignores. When the crop was scaled or
    shifted, depth and 3D size are not supervised (reg_mask 0) since the apparent depth changed;
    the 2D heads and orientation still are (rot_mask).
    """
    out_h, out_w = output_hw
    hm = np.zeros((num_classes, out_h, out_w), dtype=np.float32)
    wh = np.zeros((max_objects, 2), dtype=np.float32)
    reg = np.zeros((max_objects, 2), dtype=np.float32)
    dep = np.zeros((max_objects, 1), dtype=np.float32)
    dim = np.zeros((max_objects, 3), dtype=np.float32)
    rotbin = np.zeros((max_objects, 2), dtype=np.int64)
    rotres = np.zeros((max_objects, 2), dtype=np.float32)
    ind = np.zeros(max_objects, dtype=np.int64)
    reg_mask = np.zeros(max_objects, dtype=np.uint8)
    rot_mask = np.zeros(max_objects, dtype=np.uint8)
    if ignore_boxes is not None:
        for box, classes in zip(np.asarray(ignore_boxes, dtype=np.float32).reshape(-1, 4), ignore_classes or []):
            h, w = box[3] - box[1], box[2] - box[0]
            if not (h > 0 and w > 0):
                continue
            _, ct_int = _centre(box)
            radius = max(0, int(gaussian_radius(h, w)))
            for c in classes:
                draw_gaussian(hm[c], ct_int, radius)
                hm[c, ct_int[1], ct_int[0]] = IGNORE_HEAT
    for k, box, h, w in sized_boxes(boxes, max_objects):
        ct, ct_int = _centre(box)
        draw_gaussian(hm[int(labels[k])], ct_int, max(0, int(gaussian_radius(h, w))))
        wh[k] = w, h
        rotbin[k], rotres[k] = alpha_to_bins(float(alpha[k]))
        dep[k] = depth[k]
        dim[k] = dims[k]
        ind[k] = ct_int[1] * out_w + ct_int[0]
        reg[k] = ct - ct_int
        reg_mask[k] = 0 if geometry_augmented else 1
        rot_mask[k] = 1
    return {"hm": hm, "wh": wh, "reg": reg, "dep": dep, "dim": dim, "rotbin": rotbin, "rotres": rotres,
            "ind": ind, "reg_mask": reg_mask, "rot_mask": rot_mask}


def scatter_at(values: np.ndarray, ind: np.ndarray, mask: np.ndarray, output_hw: tuple[int, int]) -> np.ndarray:
    """A dense (D, H, W) map with each object's target (M, D) written at its index (a perfect head)."""
    out_h, out_w = output_hw
    values = np.asarray(values, dtype=np.float32).reshape(len(ind), -1)
    dense = np.zeros((values.shape[1], out_h * out_w), dtype=np.float32)
    for k in np.flatnonzero(mask):
        dense[:, ind[k]] = values[k]
    return dense.reshape(-1, out_h, out_w)

"""Test-time augmentation as the original does it: flip averaging and the multi-scale soft-NMS merge.

Flip: the batch holds the images then their mirrors; heatmaps (after sigmoid) and sizes are
averaged with the mirrored outputs flipped back, offsets come from the unflipped image only, and
for poses the joint channels are swapped by the flip pairs (x offsets negated).

Multi-scale: detections of every scale (already in image pixels) are pooled per class in scale
order, run through the original's Gaussian soft-NMS with its quirks (see `soft_nms`), then, for
boxes only, the best 100 (max_per_image) over all classes are kept (ties at the 100th score keep more).
"""
from __future__ import annotations

import numpy as np
import torch

from centernet.detections import Detections
from centernet.errors import ConfigError

SOFT_NMS_SIGMA = 0.5
SOFT_NMS_THRESHOLD = 0.001
MAX_PER_IMAGE = 100


def parse_scales(text: str) -> tuple[float, ...]:
    """'0.5,0.75,1' -> (0.5, 0.75, 1.0): test scales, each a factor between 0.05 and 8."""
    try:
        scales = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"bad scales {text!r}: use numbers separated by commas, e.g. 0.5,1,1.5") from None
    if not scales or any(not (0.05 <= v <= 8) for v in scales):
        raise ConfigError(f"bad scales {text!r}: give one or more factors between 0.05 and 8")
    return scales


def flip_back(x: torch.Tensor) -> torch.Tensor:
    """Mirror maps of the flipped images back: (B, C, H, W) reversed along W."""
    return torch.flip(x, dims=[3])


def swap_joint_channels(x: torch.Tensor, flip_pairs, per_joint: int = 1) -> torch.Tensor:
    """Exchange the channel groups of each (left, right) joint pair; `per_joint` channels per joint."""
    b, c, h, w = x.shape
    grouped = x.reshape(b, c // per_joint, per_joint, h, w)
    order = list(range(grouped.shape[1]))
    for a, z in flip_pairs:
        order[a], order[z] = order[z], order[a]
    # views stacked, not a list index: indexing with a list copies it to the device (a sync a CUDA graph forbids)
    return torch.stack([grouped[:, j] for j in order], 1).reshape(b, c, h, w)


def merge_flip(outputs: dict, task: str, flip_pairs=()) -> dict:
    """Heads of a batch [images, mirrored images] -> heads of the images, hm / hm_hp as probabilities.

    Fixed-shape tensor work only, so a CUDA graph can capture it (`frame_pipeline.py`)."""
    n = outputs["hm"].shape[0] // 2
    merged = {"hm": (torch.sigmoid(outputs["hm"][:n]) + flip_back(torch.sigmoid(outputs["hm"][n:]))) / 2}
    if "wh" in outputs:
        mirrored = flip_back(outputs["wh"][n:])
        if mirrored.shape[1] == 4:  # (left, top, right, bottom) distances: left and right trade places
            mirrored = torch.stack([mirrored[:, 2], mirrored[:, 1], mirrored[:, 0], mirrored[:, 3]], 1)
        merged["wh"] = (outputs["wh"][:n] + mirrored) / 2
    for name in ("reg", "hp_offset"):
        if name in outputs:
            merged[name] = outputs[name][:n]
    if task == "multi_pose":
        hps = flip_back(outputs["hps"][n:])
        b, c, h, w = hps.shape
        hps = hps.reshape(b, c // 2, 2, h, w).clone()
        hps[:, :, 0] *= -1  # x offsets change sign in the mirror
        merged["hps"] = (outputs["hps"][:n] + swap_joint_channels(hps.reshape(b, c, h, w), flip_pairs, 2)) / 2
        if "hm_hp" in outputs:
            mirrored = swap_joint_channels(flip_back(torch.sigmoid(outputs["hm_hp"][n:])), flip_pairs)
            merged["hm_hp"] = (torch.sigmoid(outputs["hm_hp"][:n]) + mirrored) / 2
    return merged


def soft_nms(rows: np.ndarray, sigma: float = SOFT_NMS_SIGMA, threshold: float = SOFT_NMS_THRESHOLD) -> np.ndarray:
    """The original's Gaussian soft-NMS, in place on float32 rows [x1, y1, x2, y2, score, extra...].

    As the original's Cython: step i moves the best remaining row to position i (a swap); every
    later active row overlapping it (IoU with the +1 pixel convention) has its score multiplied by
    exp(-IoU^2 / sigma); a row falling below `threshold` is overwritten by the last active row (box
    and score copied, extra columns swapped, as its 39-column version does with the joints) and
    the active count shrinks. The original ignores that count, so all rows stay: the tail holds
    stale copies. The arithmetic follows the compiled C (float32 variables, some sums in double).
    """
    if rows.dtype != np.float32:
        raise TypeError("soft_nms works on float32 rows, as the original")
    f64 = np.float64
    sigma32, thr32 = np.float32(sigma), np.float32(threshold)
    active = rows.shape[0]
    for i in range(rows.shape[0] - 1):
        if i >= active - 1:
            break  # no active row after i: the rest of the original's loop changes nothing
        best = i + int(np.argmax(rows[i:active, 4]))  # the first maximum, as its strict `<` scan
        if best != i:
            rows[[i, best]] = rows[[best, i]]
        tx1, ty1, tx2, ty2 = rows[i, :4]
        x1, y1, x2, y2 = rows[i + 1:active, :4].T
        area = ((f64(x2 - x1) + 1.0) * (f64(y2 - y1) + 1.0)).astype(np.float32)
        iw = (f64(np.minimum(tx2, x2) - np.maximum(tx1, x1)) + 1.0).astype(np.float32)
        ih = (f64(np.minimum(ty2, y2) - np.maximum(ty1, y1)) + 1.0).astype(np.float32)
        hit = (iw > 0) & (ih > 0)
        if not hit.any():
            continue
        ua = ((f64(tx2 - tx1) + 1.0) * (f64(ty2 - ty1) + 1.0) + f64(area) - f64(iw * ih)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ov = (iw * ih) / ua
            weight = np.exp(f64(-(ov * ov) / sigma32)).astype(np.float32)
        new_scores = weight * rows[i + 1:active, 4]
        # Walk the rows in order. A dropped row is replaced by the last active one, which is then
        # visited at the same position; scores depend only on the row, so they are computed above.
        ident = list(range(active - i - 1))  # position - (i + 1) -> the row's index in this step's arrays
        pos = i + 1
        while pos < active:
            k = ident[pos - i - 1]
            if hit[k]:
                rows[pos, 4] = new_scores[k]
                if new_scores[k] < thr32:
                    last = active - 1
                    rows[pos, :5] = rows[last, :5]
                    if rows.shape[1] > 5:
                        rows[[pos, last], 5:] = rows[[last, pos], 5:]
                    ident[pos - i - 1] = ident[last - i - 1]
                    active -= 1
                    continue
            pos += 1
    return rows


def _rows_of(dets: Detections, with_joints: bool) -> np.ndarray:
    d = dets.numpy()
    cols = [d["boxes"].astype(np.float32), d["scores"].astype(np.float32)[:, None]]
    if with_joints:
        cols.append(d["keypoints"].astype(np.float32).reshape(len(dets), -1))
        cols.append(d["keypoint_scores"].astype(np.float32).reshape(len(dets), -1))
    return np.concatenate(cols, axis=1)


def merge_scales(per_scale: list[Detections], num_classes: int, task: str = "ctdet",
                 max_per_image: int = MAX_PER_IMAGE) -> Detections:
    """Pool the detections of every test scale (image pixels) into one result, the original's way.

    Boxes (ctdet): per class in scale order, soft-NMS when there is more than one scale, then the
    rows scoring at least the 100th best score over all classes. Poses: soft-NMS over all rows
    (keypoints travel with their row as in the original's 39-column version) and no cut.
    Returned sorted by descending score (stable).
    """
    with_joints = task == "multi_pose"
    several = len(per_scale) > 1
    parts = []
    for c in range(num_classes):
        chunks = [_rows_of(d[d.labels == c], with_joints) for d in per_scale]
        rows = np.concatenate(chunks, axis=0).astype(np.float32)
        if several and len(rows):
            soft_nms(rows)
        parts.append((c, rows))
    if not with_joints:
        scores = np.concatenate([rows[:, 4] for _, rows in parts])
        if len(scores) > max_per_image:
            kth = len(scores) - max_per_image
            thresh = np.partition(scores, kth)[kth]
            parts = [(c, rows[rows[:, 4] >= thresh]) for c, rows in parts]
    rows = np.concatenate([r for _, r in parts], axis=0) if parts else np.zeros((0, 5), np.float32)
    labels = np.concatenate([np.full(len(r), c, dtype=np.int64) for c, r in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(-rows[:, 4], kind="stable")
    rows, labels = rows[order], labels[order]
    out = Detections(torch.from_numpy(np.ascontiguousarray(rows[:, :4])),
                     torch.from_numpy(np.ascontiguousarray(rows[:, 4])), torch.from_numpy(labels))
    if with_joints:
        num_joints = per_scale[0].keypoints.shape[1]
        out.keypoints = torch.from_numpy(np.ascontiguousarray(rows[:, 5:5 + 2 * num_joints]).reshape(-1, num_joints, 2))
        out.keypoint_scores = torch.from_numpy(np.ascontiguousarray(rows[:, 5 + 2 * num_joints:]))
    return out

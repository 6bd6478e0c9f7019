"""MoveNet MultiPose decoding: the TF Object Detection API CenterNet keypoint rule, as its graph runs it.

Pure function, heads in, `Detections` in output-map cells out (boxes xyxy, joints (x, y)). Step by
step, on the H x W stride-4 grid (the graph works in (y, x) order; so do the comments):
1. centre = sigmoid(center); peaks are cells within 1.01e-6 of the 5x5 'SAME' max-pool; top-K.
2. box: size (h, w) = max(box_scale, 0), centre (y + dy, x + dx) from box_offset; corners clipped
   to [0, H] x [0, W].
3. regressed joint k of person p: (y, x) + kpt_regress[2k : 2k + 2] at the person's cell.
4. snapping: weight(i, j) = sigmoid(kpt_heatmap)[i, j, k] * exp(-d^2 / (0.30005 * min(H, W))), d the
   distance from cell (i, j) to the regressed joint, 0 outside the person's box. The joint goes to
   the arg-max cell plus that cell's kpt_offset; its score is the largest weight any person gives
   that cell for that joint (the graph takes the max over people before gathering).
5. person score = centre score * mean of its joint scores above 0.126953125 (0 if none).
The graph's constants are float16 values (0.300048828125, 0.126953125, 1.0132789611816406e-06).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from centernet.detections import Detections

PEAK_TOLERANCE = 1.0132789611816406e-06
SIGMA_FACTOR = 0.300048828125
JOINT_SCORE_THRESHOLD = 0.126953125


def movenet_decode(center: torch.Tensor, box_scale: torch.Tensor, box_offset: torch.Tensor,
                   kpt_heatmap: torch.Tensor, kpt_regress: torch.Tensor, kpt_offset: torch.Tensor,
                   k: int = 6) -> Detections:
    """Up to k people from raw MoveNet heads of one image, each (1, C, H, W); cells, (x, y) order.

    Rows come sorted by descending person score (stable, so equal scores keep the centre-peak
    order); people whose score is 0 are kept, as the graph keeps them.
    """
    _, _, h, w = center.shape
    num_joints = kpt_heatmap.shape[1]
    dtype = torch.float32
    heat = torch.sigmoid(center[0, 0].to(dtype))
    pooled = F.max_pool2d(heat[None, None], 5, stride=1, padding=2)[0, 0]
    peaks = heat * ((heat - pooled).abs() < PEAK_TOLERANCE).to(dtype)
    k = min(k, h * w)
    center_scores, index = torch.topk(peaks.reshape(-1), k)
    ys = torch.div(index, w, rounding_mode="floor")
    xs = index - ys * w
    yf, xf = ys.to(dtype), xs.to(dtype)

    scale = box_scale[0, :, ys, xs].to(dtype).clamp(min=0.0)       # (2, K): h, w
    offset = box_offset[0, :, ys, xs].to(dtype)                      # (2, K): dy, dx
    cy, cx = yf + offset[0], xf + offset[1]
    ymin = (cy - scale[0] * 0.5).clamp(0.0, h)
    xmin = (cx - scale[1] * 0.5).clamp(0.0, w)
    ymax = (cy + scale[0] * 0.5).clamp(0.0, h)
    xmax = (cx + scale[1] * 0.5).clamp(0.0, w)

    regress = kpt_regress[0, :, ys, xs].to(dtype).reshape(num_joints, 2, k)   # (J, 2, K)
    ky = yf[None] + regress[:, 0]                                              # (J, K)
    kx = xf[None] + regress[:, 1]

    joint_heat = torch.sigmoid(kpt_heatmap[0].to(dtype)).permute(1, 2, 0)           # (H, W, J)
    sigma = float(min(h, w)) * SIGMA_FACTOR
    boxes = (ymin, xmin, ymax, xmax)
    by, bx = snap_to_heat(joint_heat, ky, kx, boxes, sigma)                          # (K, J) each
    joint_index = torch.arange(num_joints, device=center.device).expand(k, num_joints)
    score = best_weight_at(joint_heat[by, bx, joint_index], by, bx, ky, kx, boxes, sigma)
    offsets = kpt_offset[0].to(dtype).reshape(num_joints, 2, h, w)
    jy = by.to(dtype) + offsets[joint_index, 0, by, bx]
    jx = bx.to(dtype) + offsets[joint_index, 1, by, bx]

    above = score > JOINT_SCORE_THRESHOLD
    count = above.sum(dim=1).to(dtype).clamp(min=1.0)
    person = (center_scores[:, None] * torch.where(above, score, torch.zeros_like(score))).sum(dim=1) * (1.0 / count)

    order = torch.sort(person, descending=True, stable=True).indices
    return Detections(
        boxes=torch.stack([xmin, ymin, xmax, ymax], dim=1)[order],
        scores=person[order],
        labels=torch.zeros(k, dtype=torch.long, device=center.device),
        keypoints=torch.stack([jx, jy], dim=2)[order],
        keypoint_scores=score[order],
    )


def joint_weight(heat: torch.Tensor, y: torch.Tensor, x: torch.Tensor, ky: torch.Tensor, kx: torch.Tensor,
                 sigma: float) -> torch.Tensor:
    """Step 4's weight, heat * exp(-d^2 / sigma), with d from cell (y, x) to the regressed joint (ky, kx);
    one expression for both of its uses, so the snapped cell's score is the value its arg-max saw."""
    return heat * torch.exp(-((y - ky) ** 2 + (x - kx) ** 2) / sigma)


def snap_to_heat(joint_heat: torch.Tensor, ky: torch.Tensor, kx: torch.Tensor, boxes: tuple, sigma: float):
    """The cell (y, x) of each person's joints with the largest weight inside that person's box: (K, J) each.

    Only the box's cells are weighed (the graph weighs the whole map with zeros outside the box, then
    takes the first maximum): the same cell, at a fraction of the work. A box without cells or with
    only zero weights gives cell (0, 0), the graph's first maximum of an all-zero map.
    """
    h, w, num_joints = joint_heat.shape
    ymin, xmin, ymax, xmax = boxes
    grid_y = torch.arange(h, dtype=joint_heat.dtype, device=joint_heat.device)
    grid_x = torch.arange(w, dtype=joint_heat.dtype, device=joint_heat.device)
    k = ky.shape[1]
    by = torch.zeros(k, num_joints, dtype=torch.long, device=joint_heat.device)
    bx = torch.zeros_like(by)
    for p in range(k):
        rows = torch.nonzero((grid_y >= ymin[p]) & (grid_y < ymax[p]))[:, 0]
        cols = torch.nonzero((grid_x >= xmin[p]) & (grid_x < xmax[p]))[:, 0]
        if len(rows) == 0 or len(cols) == 0:
            continue
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        weight = joint_weight(joint_heat[r0:r1, c0:c1], grid_y[r0:r1, None, None], grid_x[None, c0:c1, None],
                              ky[:, p], kx[:, p], sigma)                       # (rows, cols, J)
        flat = weight.reshape(-1, num_joints)
        best = flat.argmax(dim=0)                                              # first maximum, row-major
        found = flat.amax(dim=0) > 0
        by[p] = torch.where(found, r0 + torch.div(best, c1 - c0, rounding_mode="floor"), 0)
        bx[p] = torch.where(found, c0 + best % (c1 - c0), 0)
    return by, bx


def best_weight_at(heat: torch.Tensor, by: torch.Tensor, bx: torch.Tensor, ky: torch.Tensor, kx: torch.Tensor,
                   boxes: tuple, sigma: float) -> torch.Tensor:
    """Each snapped joint's score: the largest weight any person's box and regressed joint give its
    cell (the graph's max over people before the gather). heat, by, bx: (K, J); ky, kx: (J, K)."""
    ymin, xmin, ymax, xmax = (b[None, None, :] for b in boxes)                # over people q
    y, x = by.to(heat.dtype)[..., None], bx.to(heat.dtype)[..., None]         # (K, J, 1)
    weight = joint_weight(heat[..., None], y, x, ky[None], kx[None], sigma)   # (K, J, K): joint j of person q
    inside = (y >= ymin) & (y < ymax) & (x >= xmin) & (x < xmax)
    return (weight * inside.to(heat.dtype)).amax(dim=2)

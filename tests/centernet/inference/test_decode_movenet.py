"""movenet_decode on hand-drawn heads (its agreement with the real graph is in test_default_models)."""
from __future__ import annotations

import math

import pytest
import torch

from centernet.inference.decode_movenet import movenet_decode

H = W = 16
LOW = -10.0  # logit of "nothing here"


def heads(joint_logit: float = 2.0) -> dict:
    """One person centred at cell (y 5, x 6) with joint 0 regressed to (3, 7) and a heat peak at (3, 8)."""
    center = torch.full((1, 1, H, W), LOW)
    center[0, 0, 5, 6] = 3.0
    box_scale = torch.zeros(1, 2, H, W)
    box_scale[0, :, 5, 6] = torch.tensor([8.0, 6.0])           # h, w
    box_offset = torch.zeros(1, 2, H, W)
    box_offset[0, :, 5, 6] = torch.tensor([0.25, -0.5])        # dy, dx
    kpt_heatmap = torch.full((1, 17, H, W), LOW)
    kpt_heatmap[0, 0, 3, 8] = joint_logit
    kpt_heatmap[0, 0, 12, 12] = 5.0                            # stronger, but outside the person's box
    kpt_regress = torch.zeros(1, 34, H, W)
    kpt_regress[0, 0:2, 5, 6] = torch.tensor([-2.0, 1.0])       # joint 0: (dy, dx) from the centre
    kpt_offset = torch.zeros(1, 34, H, W)
    kpt_offset[0, 0:2, 3, 8] = torch.tensor([0.1, 0.2])
    return dict(center=center, box_scale=box_scale, box_offset=box_offset, kpt_heatmap=kpt_heatmap,
                kpt_regress=kpt_regress, kpt_offset=kpt_offset)


def test_joint_snaps_to_the_nearby_heat_peak_inside_the_box_with_distance_weighted_score():
    dets = movenet_decode(**heads(), k=6)
    assert len(dets) == 6 and dets.keypoints.shape == (6, 17, 2) and dets.keypoint_scores.shape == (6, 17)
    torch.testing.assert_close(dets.boxes[0], torch.tensor([2.5, 1.25, 8.5, 9.25]))      # xyxy, cells
    torch.testing.assert_close(dets.keypoints[0, 0], torch.tensor([8.2, 3.1]))           # (x, y)
    sigma = 0.300048828125 * min(H, W)
    joint_score = torch.sigmoid(torch.tensor(2.0)) * math.exp(-1.0 / sigma)             # 1 cell from (3, 7)
    torch.testing.assert_close(dets.keypoint_scores[0, 0], joint_score)
    # the other joints only see background heat: scores far below the 0.127 threshold
    assert dets.keypoint_scores[0, 1:].max() < 1e-3
    torch.testing.assert_close(dets.scores[0], torch.sigmoid(torch.tensor(3.0)) * joint_score)
    assert (dets.scores[1:] < 1e-3).all() and (dets.labels == 0).all()


def test_person_without_a_joint_above_threshold_scores_zero():
    dets = movenet_decode(**heads(joint_logit=-3.0), k=1)  # sigmoid(-3) = 0.047 < 0.127
    assert dets.scores.tolist() == [0.0]
    torch.testing.assert_close(dets.keypoints[0, 0], torch.tensor([8.2, 3.1]))   # still snapped, just low


def test_rows_are_sorted_by_person_score():
    h = heads()
    h["center"][0, 0, 12, 2] = 4.0          # a stronger centre, but its box is empty: score 0
    dets = movenet_decode(**h, k=2)
    assert dets.scores[0] > 0.5 and dets.scores[1] == 0
    torch.testing.assert_close(dets.boxes[0], torch.tensor([2.5, 1.25, 8.5, 9.25]))


def full_map_snapping(joint_heat, ky, kx, boxes, sigma):
    """The graph's step 4 as it runs: every cell of the map weighed for every person and joint, zero
    outside the person's box, first maximum; the score is the max over people at the chosen cell."""
    h, w, num_joints = joint_heat.shape
    ymin, xmin, ymax, xmax = boxes
    k = ky.shape[1]
    grid_y = torch.arange(h, dtype=torch.float32).view(h, 1, 1, 1)
    grid_x = torch.arange(w, dtype=torch.float32).view(1, w, 1, 1)
    dist2 = (grid_y - ky.t()[None, None]) ** 2 + (grid_x - kx.t()[None, None]) ** 2       # (H, W, K, J)
    inside = ((grid_y[..., 0] >= ymin) & (grid_y[..., 0] < ymax) & (grid_x[..., 0] >= xmin) & (grid_x[..., 0] < xmax))
    weight = joint_heat[:, :, None, :] * torch.exp(-dist2 / sigma) * inside[..., None].float()
    best = weight.reshape(h * w, k, num_joints).argmax(dim=0)
    by, bx = torch.div(best, w, rounding_mode="floor"), best % w
    joints = torch.arange(num_joints).expand(k, num_joints)
    return by, bx, weight.amax(dim=2)[by, bx, joints]


def random_people(seed: int, h: int = 48, w: int = 40, k: int = 6, num_joints: int = 17):
    """Heats with peaks and plateaus, overlapping boxes (some empty, some at the map's edge), joints anywhere."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(h, w, num_joints, generator=g) * 3 - 2
    logits[5:9, 5:9, :3] = 4.0                                            # equal weights' ties inside a box
    logits[:, :, 5] = -200.0                                               # a joint whose heat underflows to 0
    heat = torch.sigmoid(logits)
    cy, cx = torch.rand(k, generator=g) * h, torch.rand(k, generator=g) * w
    sh, sw = torch.rand(k, generator=g) * h * 0.8, torch.rand(k, generator=g) * w * 0.8
    sh[0] = 0.0                                                            # a box with no cells
    boxes = [(cy - sh / 2).clamp(0, h), (cx - sw / 2).clamp(0, w), (cy + sh / 2).clamp(0, h), (cx + sw / 2).clamp(0, w)]
    boxes[2][1] = float(h)                                                 # a box reaching the last row
    ky = cy[None] + torch.randn(num_joints, k, generator=g) * 6
    kx = cx[None] + torch.randn(num_joints, k, generator=g) * 6
    return heat, ky, kx, tuple(boxes)


@pytest.mark.parametrize("seed", range(6))
def test_box_cropped_snapping_equals_the_graph_s_full_map_bit_for_bit(seed):
    from centernet.inference.decode_movenet import best_weight_at, snap_to_heat
    heat, ky, kx, boxes = random_people(seed)
    sigma = 40 * 0.300048828125
    by, bx = snap_to_heat(heat, ky, kx, boxes, sigma)
    want_y, want_x, want_score = full_map_snapping(heat, ky, kx, boxes, sigma)
    assert torch.equal(by, want_y) and torch.equal(bx, want_x)
    joints = torch.arange(heat.shape[2]).expand_as(by)
    assert torch.equal(best_weight_at(heat[by, bx, joints], by, bx, ky, kx, boxes, sigma), want_score)
    assert (by[0] == 0).all() and (bx[0] == 0).all()        # the empty box: cell (0, 0), as the full map's argmax

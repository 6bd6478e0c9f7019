"""movenet_decode on hand-drawn heads (its agreement with the real graph is in test_default_models)."""
from __future__ import annotations

import math

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

import math

import numpy as np
import pytest
import torch

from centernet.classes import COCO_FLIP_PAIRS
from centernet.detections import Detections
from centernet.errors import ConfigError
from centernet.inference.tta import merge_flip, merge_scales, parse_scales, soft_nms, swap_joint_channels


def test_soft_nms_decays_overlaps_drops_low_rows_and_leaves_stale_copies_like_the_original():
    rows = np.array([[0, 0, 10, 10, 0.9],      # A
                     [0, 0, 10, 10, 0.8],      # B: IoU 1 with A -> 0.8 * exp(-2)
                     [0, 0, 10, 10, 0.001],    # C: falls below 0.001 -> overwritten by the last row (D)
                     [50, 50, 60, 60, 0.5]],   # D: no overlap
                    np.float32)
    soft_nms(rows)
    b_score = np.float32(0.8) * np.float32(math.exp(-2.0))
    expected = np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.5], [0, 0, 10, 10, b_score],
                         [50, 50, 60, 60, 0.5]], np.float32)  # C is gone; D also stays as a stale copy
    assert np.array_equal(rows, expected)


def test_soft_nms_iou_uses_the_plus_one_pixel_convention():
    rows = np.array([[0, 0, 9, 9, 0.9], [5, 0, 14, 9, 0.8]], np.float32)  # 10x10 boxes overlapping 5x10
    soft_nms(rows)
    iou = 50 / (100 + 100 - 50)
    assert math.isclose(float(rows[1, 4]), 0.8 * math.exp(-iou * iou / 0.5), rel_tol=1e-6)


def test_soft_nms_swaps_extra_columns_of_dropped_rows_as_the_39_column_version():
    rows = np.array([[0, 0, 10, 10, 0.9, 1], [0, 0, 10, 10, 0.001, 2], [50, 50, 60, 60, 0.5, 3]], np.float32)
    soft_nms(rows)
    # row 1 (dropped) takes the box, score and joints of row 2; the stale row 2 keeps the dropped joints
    assert rows[:, 5].tolist() == [1, 3, 2] and rows[2, 4] == np.float32(0.5)


def _dets(rows, labels):
    rows = torch.tensor(rows, dtype=torch.float32)
    return Detections(rows[:, :4], rows[:, 4], torch.tensor(labels))


def test_multi_scale_merge_pools_per_class_and_keeps_the_best_100_with_ties():
    rng = np.random.default_rng(0)
    per_scale = []
    for s in range(2):
        boxes = np.concatenate([rng.uniform(0, 500, (80, 2)) * (s + 1), np.full((80, 2), 1000.0)], 1)
        boxes[:, 2:] = boxes[:, :2] + 3  # tiny boxes far apart: soft-NMS changes nothing
        scores = rng.uniform(0.2, 0.9, (80, 1))
        per_scale.append(_dets(np.concatenate([boxes, scores], 1), [s % 2] * 40 + [2] * 40))
    merged = merge_scales(per_scale, num_classes=3)
    assert len(merged) == 100
    all_scores = np.sort(np.concatenate([d.scores.numpy() for d in per_scale]))[::-1]
    assert np.allclose(np.sort(merged.scores.numpy())[::-1], all_scores[:100])
    tied = [_dets([[0, 0, 1, 1, 0.5]] * 60 + [[900 + i, 0, 901 + i, 1, 0.5] for i in range(60)], [0] * 60 + [1] * 60)]
    assert len(merge_scales(tied, num_classes=2)) == 120  # single scale: no NMS, ties at the 100th all stay


def test_flip_merge_undoes_a_perfectly_mirrored_pose_output():
    torch.manual_seed(0)
    h, w = 6, 8
    out = {"hm": torch.randn(1, 1, h, w), "wh": torch.rand(1, 2, h, w), "reg": torch.rand(1, 2, h, w),
           "hps": torch.randn(1, 34, h, w), "hm_hp": torch.randn(1, 17, h, w), "hp_offset": torch.rand(1, 2, h, w)}
    hps_m = out["hps"].reshape(1, 17, 2, h, w).clone()
    hps_m[:, :, 0] *= -1
    mirrored = {"hm": out["hm"].flip(3), "wh": out["wh"].flip(3), "reg": torch.zeros(1, 2, h, w),
                "hps": swap_joint_channels(hps_m.reshape(1, 34, h, w), COCO_FLIP_PAIRS, 2).flip(3),
                "hm_hp": swap_joint_channels(out["hm_hp"], COCO_FLIP_PAIRS).flip(3),
                "hp_offset": torch.zeros(1, 2, h, w)}
    merged = merge_flip({k: torch.cat([out[k], mirrored[k]]) for k in out}, "multi_pose", COCO_FLIP_PAIRS)
    assert torch.allclose(merged["hm"], torch.sigmoid(out["hm"]))
    assert torch.allclose(merged["hm_hp"], torch.sigmoid(out["hm_hp"]))
    for name in ("wh", "hps", "reg", "hp_offset"):
        assert torch.allclose(merged[name], out[name]), name


def test_swapping_joint_channels_exchanges_left_and_right():
    x = torch.arange(17.0).reshape(1, 17, 1, 1)
    swapped = swap_joint_channels(x, COCO_FLIP_PAIRS).flatten().tolist()
    assert swapped[:5] == [0, 2, 1, 4, 3] and swapped[15:] == [16, 15]


def test_flip_merge_swaps_left_and_right_distances_of_ltrb_boxes():
    torch.manual_seed(1)
    hm, ltrb = torch.randn(1, 3, 5, 7), torch.rand(1, 4, 5, 7)
    mirrored = {"hm": hm.flip(3), "wh": ltrb[:, [2, 1, 0, 3]].flip(3)}
    merged = merge_flip({"hm": torch.cat([hm, mirrored["hm"]]), "wh": torch.cat([ltrb, mirrored["wh"]])}, "ctdet")
    assert torch.allclose(merged["wh"], ltrb) and torch.allclose(merged["hm"], torch.sigmoid(hm))


def test_parse_scales_reads_factors_and_says_what_is_wrong():
    assert parse_scales("0.5, 0.75,1,") == (0.5, 0.75, 1.0)
    assert parse_scales("1") == (1.0,)
    for bad, why in (("0.5,x", "numbers separated by commas"), ("", "between 0.05 and 8"),
                     ("0,1", "between 0.05 and 8"), ("9", "between 0.05 and 8")):
        with pytest.raises(ConfigError, match=why):
            parse_scales(bad)

"""centernet/targets.py: Gaussian rule, and targets -> decode round trips for every task."""
import math

import numpy as np
import pytest
import torch

from centernet.inference.decode import ctdet_decode, ddd_decode, gather_at, multi_pose_decode, peak_mask_scores, topk_peaks
from centernet.train.losses import depth_from_logits
from centernet.data.targets import (alpha_to_rot8, ctdet_targets, ddd_targets, draw_gaussian, gaussian_2d, gaussian_radius,
                               multi_pose_targets, object_radius, scatter_at)

OUT = (64, 80)  # (h, w) output cells


def perfect_heads(t: dict, keys: dict, out_hw=OUT) -> dict:
    """Head outputs a perfect network would give: heat as logits, regressions written at each index."""
    heads = {"hm": torch.logit(torch.from_numpy(t["hm"]).clamp(1e-6, 1 - 1e-6))[None]}
    for head, (key, mask) in keys.items():
        heads[head] = torch.from_numpy(scatter_at(t[key], t["ind"], t[mask], out_hw))[None]
    return heads


def test_gaussian_radius_is_the_originals_rule_with_min_overlap_0_7():
    # CornerNet's three quadratics as the original writes them (including its /2 instead of /2a);
    # for a 30x20 box the third (both corners outside) is the smallest: a=2.8, b=-70, c=-180
    assert gaussian_radius(30, 20) == pytest.approx((-70 + math.sqrt(70 ** 2 + 4 * 2.8 * 180)) / 2)
    assert gaussian_radius(30, 20) == pytest.approx(6.58125, abs=1e-4)
    assert object_radius(29.5, 20.5) == int(gaussian_radius(30, 21)) == 6  # sizes rounded up first
    assert object_radius(0.5, 0.5) == 0


def test_gaussian_peak_is_exactly_one_and_drawing_takes_the_maximum():
    g = gaussian_2d(3)
    assert g.shape == (7, 7) and g[3, 3] == 1.0 and g[0, 3] == pytest.approx(math.exp(-9 / (2 * (7 / 6) ** 2)))
    hm = np.zeros((10, 10), np.float32)
    draw_gaussian(hm, (0, 9), 3)  # clipped at the corner
    draw_gaussian(hm, (1, 9), 3)
    assert hm[9, 0] == 1.0 and hm[9, 1] == 1.0 and hm.max() == 1.0


def test_peak_at_gaussian_center_decodes_to_exact_box():
    boxes = np.array([[10.25, 20.5, 30.75, 50.0], [60.0, 5.0, 79.0, 40.25], [0.0, 0.0, 3.5, 2.25]], np.float32)
    labels = np.array([0, 2, 1])
    t = ctdet_targets(boxes, labels, 3, OUT)
    assert t["reg_mask"].sum() == 3 and t["hm"].shape == (3, *OUT) and t["wh"].shape == (128, 2)
    heads = perfect_heads(t, {"wh": ("wh", "reg_mask"), "reg": ("reg", "reg_mask")})
    dets = ctdet_decode(heads["hm"], heads["wh"], heads["reg"], k=100)
    top = dets[dets.scores > 0.99]
    order = np.argsort(top.labels.numpy())
    got = top.boxes.numpy()[order]
    want = boxes[np.argsort(labels)]
    assert np.array_equal(got, want)  # dyadic coordinates: exact in float32
    assert sorted(top.labels.tolist()) == [0, 1, 2]


def test_random_boxes_round_trip_within_float_precision():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 60, size=(20, 2))
    wh = rng.uniform(3, 20, size=(20, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, [OUT[1] - 1, OUT[0] - 1])], 1).astype(np.float32)
    t = ctdet_targets(boxes, np.zeros(20, int), 1, OUT)
    heads = perfect_heads(t, {"wh": ("wh", "reg_mask"), "reg": ("reg", "reg_mask")})
    heat = torch.sigmoid(heads["hm"])
    _, _, ys, xs, pixel = topk_peaks(peak_mask_scores(heat), 100)
    # decode at the objects' own indices (overlapping Gaussians may hide a peak; the indices do not)
    ind = torch.from_numpy(t["ind"][:20])[None]
    centre = torch.stack([ind % OUT[1], ind // OUT[1]], -1).float() + gather_at(heads["reg"], ind)
    size = gather_at(heads["wh"], ind)
    got = torch.cat([centre - size / 2, centre + size / 2], -1)[0].numpy()
    np.testing.assert_allclose(got, boxes, atol=2e-5)


def test_objects_past_max_objects_and_empty_boxes_are_dropped():
    boxes = np.array([[1, 1, 5, 5], [3, 3, 3, 9], [10, 10, 20, 20]], np.float32)
    t = ctdet_targets(boxes, np.zeros(3, int), 1, OUT, max_objects=2)
    assert t["reg_mask"].tolist() == [1, 0]
    assert t["hm"][0, 15, 15] == 0  # third object beyond the two slots


def _distinct_joints(rng, box, n=17):
    """n joints inside box on distinct integer cells (the shared hp_offset map holds one offset per cell)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    cells = rng.choice((x2 - x1) * (y2 - y1), size=n, replace=False)
    xs, ys = x1 + cells % (x2 - x1), y1 + cells // (x2 - x1)
    return np.stack([xs + rng.uniform(0, 1, n).round(3), ys + rng.uniform(0, 1, n).round(3)], 1)


def test_multi_pose_targets_decode_back_to_joints():
    boxes = np.array([[10.0, 8.0, 30.0, 50.0], [40.0, 10.0, 70.0, 60.0]], np.float32)
    rng = np.random.default_rng(1)
    kps = np.zeros((2, 17, 3), np.float32)
    for i, b in enumerate(boxes):
        kps[i, :, :2] = _distinct_joints(rng, b)
        kps[i, :, 2] = 2
    kps[1, 4, 2] = 0  # an unlabelled joint is not supervised
    kps[0, 3, :2] = (-3.0, 20.0)  # a joint outside the map is not supervised either
    t = multi_pose_targets(boxes, kps, OUT)
    assert t["hps_mask"][1, 8:10].tolist() == [0, 0] and t["hps_mask"][0, 6:8].tolist() == [0, 0]
    assert t["hp_mask"].sum() == 32 and t["hm_hp"].shape == (17, *OUT)
    heads = perfect_heads(t, {"hps": ("hps", "reg_mask"), "reg": ("reg", "reg_mask"), "wh": ("wh", "reg_mask")})
    mask = t["hps_mask"][:2].reshape(2, 17, 2).astype(bool)

    def decoded(**joint_heads):
        dets = multi_pose_decode(heads["hm"], heads["wh"], heads["reg"], heads["hps"], k=10, **joint_heads)
        dets = dets[dets.scores > 0.99]
        order = np.argsort(dets.boxes[:, 0].numpy())
        return dets.boxes.numpy()[order], dets.keypoints.numpy()[order]

    got_boxes, joints = decoded()  # regressed joints: integer centre + hps
    assert np.array_equal(got_boxes, boxes)
    np.testing.assert_allclose(joints[mask], kps[..., :2][mask], atol=1e-5)
    # snapped to the joint heatmaps' peaks + sub-pixel offsets: the same joints
    hm_hp = torch.logit(torch.from_numpy(t["hm_hp"]).clamp(1e-6, 1 - 1e-6))[None]
    hp_offset = torch.from_numpy(scatter_at(t["hp_offset"], t["hp_ind"], t["hp_mask"], OUT))[None]
    _, snapped = decoded(hm_hp=hm_hp, hp_offset=hp_offset)
    np.testing.assert_allclose(snapped[mask], kps[..., :2][mask], atol=1e-5)


def test_person_without_labelled_joints_keeps_its_peak_but_no_regression():
    t = multi_pose_targets(np.array([[10, 10, 30, 40]], np.float32), np.zeros((1, 17, 3), np.float32), OUT)
    assert t["hm"].max() == 1.0 and t["reg_mask"][0] == 0


@pytest.mark.parametrize("alpha", [-3.0, -2.0, -1.0, -0.2, 0.0, 0.4, 1.2, 2.0, 2.9])
def test_ddd_targets_decode_back_to_box_depth_dims_and_alpha(alpha):
    boxes = np.array([[20.0, 10.0, 44.0, 30.0]], np.float32)
    depth, dims = np.array([23.5], np.float32), np.array([[1.5, 1.6, 3.9]], np.float32)
    t = ddd_targets(boxes, np.array([1]), np.array([alpha]), depth, dims, 3, OUT)
    assert t["reg_mask"][0] == 1 and t["rot_mask"][0] == 1 and t["rotbin"][0].sum() >= 1
    # the depth head's output d = 1/sigmoid(x) - 1 is inverted by x = -log(d)
    dep_logit = -np.log(np.maximum(t["dep"], 1e-12))
    rot8 = np.repeat(alpha_to_rot8(alpha)[None], len(t["ind"]), 0)
    heads = perfect_heads({**t, "dep_logit": dep_logit, "rot8": rot8},
                          {"dep": ("dep_logit", "reg_mask"), "dim": ("dim", "reg_mask"), "rot": ("rot8", "rot_mask"),
                           "wh": ("wh", "reg_mask"), "reg": ("reg", "reg_mask")})
    dets = ddd_decode(heads["hm"], heads["dep"], heads["rot"], heads["dim"], heads["wh"], heads["reg"], k=1)
    assert np.array_equal(dets.boxes.numpy(), boxes) and dets.labels.tolist() == [1]
    assert float(dets.depth[0]) == pytest.approx(23.5, rel=1e-4)  # the +1e-6 in 1/(s+1e-6)
    assert dets.dims[0].tolist() == pytest.approx(dims[0].tolist())
    assert math.cos(float(dets.alpha[0]) - alpha) == pytest.approx(1.0, abs=1e-6)
    assert float(depth_from_logits(torch.tensor(float(dep_logit[0, 0])))) == pytest.approx(23.5, rel=1e-4)


def test_ddd_dont_care_regions_are_near_one_but_not_positive():
    t = ddd_targets(np.zeros((0, 4), np.float32), np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros((0, 3)), 3, OUT,
                    ignore_boxes=np.array([[10, 10, 30, 30]], np.float32), ignore_classes=[[0, 2]])
    assert t["hm"][0, 20, 20] == pytest.approx(0.9999) and t["hm"][2, 20, 20] == pytest.approx(0.9999)
    assert t["hm"][1].max() == 0 and (t["hm"] == 1).sum() == 0


def test_ddd_crop_augmented_objects_keep_2d_and_rotation_but_not_depth_supervision():
    t = ddd_targets(np.array([[2, 2, 12, 12]], np.float32), np.array([0]), np.array([0.3]), np.array([10.0]),
                    np.array([[1, 1, 1]]), 3, OUT, geometry_augmented=True)
    assert t["reg_mask"][0] == 0 and t["rot_mask"][0] == 1

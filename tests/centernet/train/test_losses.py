"""centernet/losses.py: hand-computed values, perfect predictions, per-stack averaging."""
import math

import numpy as np
import pytest
import torch

from centernet.train.losses import (CenterNetLoss, LossWeights, focal_loss, reg_l1_loss, rotation_bin_loss,
                              used_heads)
from centernet.data.targets import alpha_to_rot8, ctdet_targets, scatter_at


def test_focal_loss_equals_hand_computed_value():
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    pred = torch.tensor([[[[0.8, 0.3], [0.1, 0.6]]]])
    pos = (1 - 0.8) ** 2 * math.log(0.8)
    neg = ((1 - 0.5) ** 4 * 0.3 ** 2 * math.log(0.7) + 0.1 ** 2 * math.log(0.9) + 0.6 ** 2 * math.log(0.4))
    assert float(focal_loss(pred, gt)) == pytest.approx(-(pos + neg) / 1, rel=1e-6)
    # two objects: normalised by their number
    gt2 = torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    pos2 = pos + (1 - 0.6) ** 2 * math.log(0.6)
    neg2 = (1 - 0.5) ** 4 * 0.3 ** 2 * math.log(0.7) + 0.1 ** 2 * math.log(0.9)
    assert float(focal_loss(pred, gt2)) == pytest.approx(-(pos2 + neg2) / 2, rel=1e-6)


def test_focal_loss_without_objects_is_the_negative_term_alone():
    pred = torch.full((1, 1, 2, 2), 0.2)
    assert float(focal_loss(pred, torch.zeros(1, 1, 2, 2))) == pytest.approx(-4 * 0.04 * math.log(0.8), rel=1e-6)


def test_focal_loss_is_near_zero_for_a_perfect_prediction():
    t = ctdet_targets(np.array([[10, 10, 30, 40], [40, 5, 60, 20]], np.float32), np.array([0, 1]), 2, (64, 64))
    gt = torch.from_numpy(t["hm"])[None]
    perfect = (gt == 1).float().clamp(1e-4, 1 - 1e-4)  # 1 at the centres, 0 elsewhere (as clamped)
    assert float(focal_loss(perfect, gt)) < 1e-4
    assert float(focal_loss(torch.full_like(gt, 0.1), gt)) > 1.0


def test_reg_l1_averages_over_supervised_values_only():
    out = torch.zeros(1, 2, 4, 4)
    out[0, :, 1, 2] = torch.tensor([3.0, 5.0])
    ind = torch.tensor([[6, 0]])  # (y=1, x=2) and an unused slot
    mask = torch.tensor([[1, 0]])
    target = torch.tensor([[[4.0, 3.0], [100.0, 100.0]]])
    assert float(reg_l1_loss(out, mask, ind, target)) == pytest.approx((1 + 2) / (2 + 1e-4))


def test_rotation_loss_has_no_gradient_from_empty_slots_and_is_minimal_for_the_true_angle():
    alpha = 0.4
    t = ctdet_targets(np.array([[2, 2, 10, 10]], np.float32), np.array([0]), 1, (16, 16), max_objects=4)
    from centernet.data.targets import alpha_to_bins
    rotbin, rotres = alpha_to_bins(alpha)
    rb = torch.zeros(1, 4, 2, dtype=torch.long)
    rr = torch.zeros(1, 4, 2)
    rb[0, 0], rr[0, 0] = torch.from_numpy(rotbin), torch.from_numpy(rotres)
    rot8 = alpha_to_rot8(alpha) * np.array([1, 20, 1, 1, 1, 20, 1, 1], np.float32)  # confident bin logits
    dense = torch.from_numpy(scatter_at(np.repeat(rot8[None], 4, 0), t["ind"], t["reg_mask"], (16, 16)))[None]
    dense.requires_grad_(True)
    mask, ind = torch.from_numpy(t["reg_mask"])[None], torch.from_numpy(t["ind"])[None]
    good = rotation_bin_loss(dense, mask, ind, rb, rr)
    # empty slots contribute the original's constant log(2) per bin (masked logits are 0) and nothing else
    assert float(good.detach()) == pytest.approx(2 * 3 / 4 * math.log(2), abs=1e-3)
    good.backward()
    assert dense.grad.abs().sum() < 1e-3
    wrong = dense.detach().clone()
    wrong[0, 2:4] = torch.roll(wrong[0, 2:4], 1, 0)
    assert float(rotation_bin_loss(wrong, mask, ind, rb, rr)) > float(good.detach()) + 0.1


def test_ctdet_loss_weights_and_stack_average():
    t = ctdet_targets(np.array([[4, 4, 20, 24]], np.float32), np.array([0]), 2, (32, 32))
    batch = {k: torch.from_numpy(v)[None] for k, v in t.items()}
    torch.manual_seed(0)
    out = {"hm": torch.randn(1, 2, 32, 32), "wh": torch.randn(1, 2, 32, 32), "reg": torch.randn(1, 2, 32, 32)}
    crit = CenterNetLoss("ctdet")
    total, parts = crit([out], batch)
    assert float(total) == pytest.approx(float(parts["hm_loss"] + 0.1 * parts["wh_loss"] + parts["off_loss"]))
    total2, parts2 = crit([out, out], batch)  # hourglass: every stack supervised, averaged
    assert float(total2) == pytest.approx(float(total))
    heavy, _ = CenterNetLoss("ctdet", LossWeights(wh=1.0))([out], batch)
    assert float(heavy) == pytest.approx(float(parts["hm_loss"] + parts["wh_loss"] + parts["off_loss"]))


def test_heads_without_weight_are_reported_unused():
    assert used_heads("ctdet", LossWeights()) == {"hm", "wh", "reg"}
    assert used_heads("ctdet", LossWeights(off=0)) == {"hm", "wh"}
    assert "hm_hp" in used_heads("multi_pose", LossWeights())

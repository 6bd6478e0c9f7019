"""TensorFlow's padding, resize and hard-swish rules, as the ported default models need them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from centernet.models.backbones.tf_layers import (TF_ONE_SIXTH, HardSigmoid, HardSwish, TFConv2d,
                                           resize_bilinear_tf_legacy, tf_same_padding)


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (512, 3, 2, (0, 1)),   # even size, stride 2: TF pads after, not both sides
    (512, 5, 2, (1, 2)),
    (511, 3, 2, (1, 1)),   # odd size: symmetric
    (64, 3, 1, (1, 1)),
    (64, 5, 1, (2, 2)),
    (7, 1, 2, (0, 0)),
])
def test_tf_same_padding(size, kernel, stride, expected):
    assert tf_same_padding(size, kernel, stride) == expected


def test_strided_conv_pads_like_tf_same():
    conv = TFConv2d(1, 1, 3, stride=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    out = conv(x)
    assert out.shape == (1, 1, 2, 2)
    # output (0, 0) sums rows 0-2, cols 0-2 (no padding before); (1, 1) rows 2-3, cols 2-3 (+ pad)
    assert out[0, 0, 0, 0] == x[0, 0, :3, :3].sum()
    assert out[0, 0, 1, 1] == x[0, 0, 2:, 2:].sum()


def legacy_resize_reference(a: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF ResizeBilinear(align_corners=False, half_pixel_centers=False), written out per pixel."""
    in_h, in_w = a.shape
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        sy = i * in_h / out_h
        y0, fy = int(np.floor(sy)), sy - np.floor(sy)
        y1 = min(y0 + 1, in_h - 1)
        for j in range(out_w):
            sx = j * in_w / out_w
            x0, fx = int(np.floor(sx)), sx - np.floor(sx)
            x1 = min(x0 + 1, in_w - 1)
            top = a[y0, x0] + (a[y0, x1] - a[y0, x0]) * fx
            bottom = a[y1, x0] + (a[y1, x1] - a[y1, x0]) * fx
            out[i, j] = top + (bottom - top) * fy
    return out


@pytest.mark.parametrize("in_hw, out_hw", [((4, 5), (8, 10)), ((16, 16), (32, 32)), ((3, 4), (7, 9))])
def test_legacy_resize_matches_tf_rule_and_not_pytorch_half_pixel(in_hw, out_hw):
    a = torch.randn(1, 2, *in_hw, generator=torch.Generator().manual_seed(0))
    got = resize_bilinear_tf_legacy(a, out_hw)
    for c in range(2):
        np.testing.assert_allclose(got[0, c].numpy(), legacy_resize_reference(a[0, c].double().numpy(), *out_hw),
                                   rtol=0, atol=1e-5)
    pytorch = F.interpolate(a, size=out_hw, mode="bilinear", align_corners=False)
    assert (got - pytorch).abs().max() > 0.05


def test_hard_swish_uses_the_graph_float16_constant_in_graph_order():
    x = torch.linspace(-5, 5, 101)
    assert TF_ONE_SIXTH == float(np.float16(1 / 6))
    torch.testing.assert_close(HardSwish()(x), (x * TF_ONE_SIXTH) * torch.clamp(x + 3, 0, 6), rtol=0, atol=0)
    torch.testing.assert_close(HardSigmoid()(x), torch.clamp(x + 3, 0, 6) * TF_ONE_SIXTH, rtol=0, atol=0)

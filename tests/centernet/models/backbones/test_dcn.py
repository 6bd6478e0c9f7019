"""DCN: the original DCNv2 layout and its arithmetic, checked against an independent slow version."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import deform_conv2d

from centernet.models.backbones.dcn import DCN, gathered_deform_conv2d, use_fast_deform_conv


@pytest.fixture(params=[False, True], ids=["torchvision", "gathered"])
def cpu_path(request):
    """Run a test once with each computation of the deformable conv (the value of `DCN.fast`)."""
    return request.param


def slow_dcn(layer: DCN, x: torch.Tensor) -> torch.Tensor:
    """DCNv2 by definition, in float64 loops: offsets = first two thirds of `conv_offset_mask`'s
    output, (dy, dx) per tap k at channels 2k, 2k + 1; mask = sigmoid of the last third; each tap
    sampled bilinearly with corners outside the image read as zero."""
    assert layer.deformable_groups == 1
    om = layer.conv_offset_mask(x).detach().double().numpy()
    taps = layer.kernel_size[0] * layer.kernel_size[1]
    offset, mask = om[:, : 2 * taps], 1.0 / (1.0 + np.exp(-om[:, 2 * taps:]))
    img = x.detach().double().numpy()
    wgt = layer.weight.detach().double().numpy()
    bias = layer.bias.detach().double().numpy()
    n, c, h, w = img.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel_size, layer.stride, layer.padding, layer.dilation
    ho, wo = offset.shape[2:]

    def bilinear(plane: np.ndarray, y: float, x_: float) -> np.ndarray:
        y0, x0 = math.floor(y), math.floor(x_)
        val = np.zeros(plane.shape[0])
        for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
            for xx, wx in ((x0, 1 - (x_ - x0)), (x0 + 1, x_ - x0)):
                if 0 <= yy < h and 0 <= xx < w:
                    val += wy * wx * plane[:, yy, xx]
        return val

    out = np.zeros((n, wgt.shape[0], ho, wo))
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                acc = bias.copy()
                for i in range(kh):
                    for j in range(kw):
                        k = i * kw + j
                        y = oy * sh - ph + i * dh + offset[b, 2 * k, oy, ox]
                        x_ = ox * sw - pw + j * dw + offset[b, 2 * k + 1, oy, ox]
                        acc += wgt[:, :, i, j] @ (mask[b, k, oy, ox] * bilinear(img[b], y, x_))
                out[b, :, oy, ox] = acc
    return torch.from_numpy(out).float()


def test_parameters_have_the_original_dcnv2_names_and_shapes():
    layer = DCN(8, 16, kernel_size=3, stride=1, padding=1, dilation=1, deformable_groups=1)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {
        "weight": (16, 8, 3, 3),
        "bias": (16,),
        "conv_offset_mask.weight": (27, 8, 3, 3),
        "conv_offset_mask.bias": (27,),
    }
    assert list(shapes) == ["weight", "bias", "conv_offset_mask.weight", "conv_offset_mask.bias"]


def test_fresh_layer_predicts_zero_offsets_and_half_masks():
    layer = DCN(4, 5, 3, 1, 1)
    offset, mask = layer.offset_and_mask(torch.randn(1, 4, 6, 7))
    assert offset.shape == (1, 18, 6, 7) and mask.shape == (1, 9, 6, 7)
    assert torch.all(offset == 0) and torch.all(mask == 0.5)


def test_zero_offsets_and_saturated_mask_reduce_to_a_plain_convolution(cpu_path):
    torch.manual_seed(0)
    layer = DCN(6, 5, 3, stride=1, padding=1)
    layer.fast = cpu_path
    with torch.no_grad():
        layer.bias.normal_()
        layer.conv_offset_mask.bias[18:] = 40.0  # sigmoid(40) == 1.0 in float32; offsets stay 0
    x = torch.randn(2, 6, 9, 11)
    expected = F.conv2d(x, layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "stride, padding, dilation",
    [(1, 1, 1), (2, 1, 1), (1, 2, 2)],
    ids=["s1", "stride2", "dilation2"],
)
def test_forward_equals_the_slow_definition(cpu_path, stride, padding, dilation):
    torch.manual_seed(1)
    layer = DCN(3, 4, 3, stride=stride, padding=padding, dilation=dilation)
    layer.fast = cpu_path
    with torch.no_grad():
        layer.bias.normal_()
        # offsets of a few pixels, some leaving the image; masks spread over (0, 1)
        layer.conv_offset_mask.weight.normal_(0.0, 0.6)
        layer.conv_offset_mask.bias.normal_(0.0, 1.0)
    x = torch.randn(2, 3, 7, 8)
    with torch.no_grad():
        got = layer(x)
    torch.testing.assert_close(got, slow_dcn(layer, x), rtol=0, atol=2e-5)


def test_offset_channels_are_dy_then_dx_per_tap_as_in_the_original(cpu_path):
    """A constant offset of +1 in dx on every tap (channel 2k + 1) reads every tap one pixel to the
    right: a plain conv over the image padded by 0 on the left and 2 on the right."""
    torch.manual_seed(2)
    layer = DCN(2, 3, 3, 1, 1)
    layer.fast = cpu_path
    with torch.no_grad():
        layer.conv_offset_mask.bias[1:18:2] = 1.0   # dx of every tap, in the first two thirds
        layer.conv_offset_mask.bias[18:] = 40.0     # mask 1
    x = torch.randn(1, 2, 6, 9)
    expected = F.conv2d(F.pad(x, (0, 2, 1, 1)), layer.weight, layer.bias)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-5)


CASES = [  # n, c, h, w, out, stride, padding, dilation, deformable groups, offset scale
    (2, 8, 9, 11, 5, 1, 1, 1, 1, 3.0),
    (1, 6, 7, 8, 4, 2, 1, 1, 2, 2.0),
    (1, 4, 6, 6, 3, 1, 2, 2, 1, 1.0),
    (1, 16, 20, 24, 8, 1, 1, 1, 1, 0.5),
]


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("integer_offsets", [False, True], ids=["fractional", "integer"])
def test_gathered_path_equals_torchvision(case, integer_offsets):
    n, c, h, w, o, s, p, d, g, scale = case
    gen = torch.Generator().manual_seed(3)
    ho, wo = (h + 2 * p - d * 2 - 1) // s + 1, (w + 2 * p - d * 2 - 1) // s + 1
    x = torch.randn(n, c, h, w, generator=gen)
    weight = torch.randn(o, c, 3, 3, generator=gen) * 0.3
    bias = torch.randn(o, generator=gen)
    offset = torch.randn(n, 2 * g * 9, ho, wo, generator=gen) * scale
    if integer_offsets:  # samples exactly on pixels and on the image border (-1, h)
        offset = offset.round()
    mask = torch.rand(n, g * 9, ho, wo, generator=gen)
    ref = deform_conv2d(x, offset, weight, bias, stride=(s, s), padding=(p, p), dilation=(d, d), mask=mask)
    got = gathered_deform_conv2d(x, offset, mask, weight, bias, (s, s), (p, p), (d, d))
    torch.testing.assert_close(got, ref, rtol=0, atol=5e-6)


def test_gathered_path_gradients_equal_torchvision():
    gen = torch.Generator().manual_seed(4)
    tensors = [
        torch.randn(1, 4, 6, 7, generator=gen),
        torch.randn(1, 18, 6, 7, generator=gen) * 1.3,
        torch.rand(1, 9, 6, 7, generator=gen),
        torch.randn(3, 4, 3, 3, generator=gen),
        torch.randn(3, generator=gen),
    ]
    grads = []
    for fast in (False, True):
        x, off, mask, wgt, b = [t.clone().requires_grad_(True) for t in tensors]
        if fast:
            y = gathered_deform_conv2d(x, off, mask, wgt, b, (1, 1), (1, 1), (1, 1))
        else:
            y = deform_conv2d(x, off, wgt, b, padding=(1, 1), mask=mask)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        grads.append([t.grad for t in (x, off, mask, wgt, b)])
    for ref, got in zip(*grads):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_gathered_path_handles_one_pixel_wide_maps():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 3, 1, 5, generator=gen)
    weight = torch.randn(2, 3, 3, 3, generator=gen)
    offset = torch.randn(1, 18, 1, 5, generator=gen)
    mask = torch.rand(1, 9, 1, 5, generator=gen)
    ref = deform_conv2d(x, offset, weight, None, padding=(1, 1), mask=mask)
    got = gathered_deform_conv2d(x, offset, mask, weight, None, (1, 1), (1, 1), (1, 1))
    torch.testing.assert_close(got, ref, rtol=0, atol=5e-6)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "channels_last"])
def test_gathered_path_runs_bfloat16_within_its_rounding(layout):
    """bfloat16 (8-bit mantissa) inputs and weights: within ~1 % of the float32 reference, for either layout."""
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 32, 24, 20, generator=gen)
    weight = torch.randn(16, 32, 3, 3, generator=gen) * 0.1
    bias = torch.randn(16, generator=gen)
    offset = torch.randn(1, 18, 24, 20, generator=gen) * 2
    mask = torch.rand(1, 9, 24, 20, generator=gen)
    ref = deform_conv2d(x, offset, weight, bias, padding=(1, 1), mask=mask)
    got = gathered_deform_conv2d(x.to(torch.bfloat16).contiguous(memory_format=layout), offset, mask,
                                 weight.to(torch.bfloat16), bias.to(torch.bfloat16), (1, 1), (1, 1), (1, 1))
    assert got.dtype == torch.bfloat16
    err = (got.float() - ref).abs().max().item()
    assert err <= 0.02 * ref.abs().max().item(), err
    assert err > 0  # it did run in bfloat16


def test_dcn_falls_back_to_the_gathered_path_for_bfloat16():
    torch.manual_seed(7)
    layer = DCN(4, 6, 3, 1, 1)
    with torch.no_grad():
        layer.conv_offset_mask.weight.normal_(0.0, 0.5)
        x = torch.randn(1, 4, 9, 9)
        ref = layer(x)
        got = layer.to(torch.bfloat16)(x.to(torch.bfloat16))
    torch.testing.assert_close(got.float(), ref, rtol=0.03, atol=0.05)


def test_use_fast_deform_conv_switches_a_whole_model_and_keeps_its_outputs():
    from centernet.models.build import build_model
    torch.manual_seed(8)
    model = build_model("resdcn_18", "ctdet").eval()
    for m in model.modules():
        if isinstance(m, DCN):
            torch.nn.init.normal_(m.conv_offset_mask.weight, std=0.05)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
        assert use_fast_deform_conv(model) == 3  # resdcn_18: one DCN per up-sampling stage
        assert all(m.fast for m in model.modules() if isinstance(m, DCN))
        got = model(x)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=0, atol=1e-4)

"""Modulated deformable convolution (DCNv2) with the original extension's module layout.

`DCN` holds `weight`, `bias` and `conv_offset_mask` exactly as the original DCNv2 module, so the
zoo files load strictly. The offset/mask split follows the original: the offset conv's output is
chunked in three, the first two thirds (in order) are the (dy, dx) offsets interleaved per kernel
tap, and the sigmoid of the last third is the modulation mask.

Two computations of the same operation:
- `torchvision.ops.deform_conv2d`: the reference (the same operation as the original's CUDA-only
  DCNv2, and bit-for-bit the stand-in the reference harness runs it with); used on every device,
  and on CPU when `FAST_CPU` is false;
- `sampled_deform_conv2d`: the kernel taps sampled with `grid_sample` (positions in float64), then
  one matmul; about 1.5-2x faster on CPU, equal to the reference up to float32 summation order
  (~1e-6 per layer). `DCN` uses it for float32 CPU tensors while `FAST_CPU` is true;
  `tests/centernet/backbones/test_dcn.py` pins that both agree.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _pair
from torchvision.ops import deform_conv2d

# Use `sampled_deform_conv2d` for float32 CPU tensors (checked equal to torchvision in the tests).
# Set to False for bit-exact agreement with the original (whole models then differ by 0 instead of
# ~1e-5 in the head logits).
FAST_CPU = True


def sampled_deform_conv2d(
    x: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    sample_dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Modulated deformable conv as bilinear sampling + one matmul; torchvision's arguments (groups 1).

    The kernel taps of every output pixel are sampled with `grid_sample` (bilinear, zero outside
    the image, `align_corners=True` so grid units map to pixel centres as in torchvision), scaled by
    the mask and laid out as (channel, tap) rows, so a single matmul applies the weight. Sampling
    runs in `sample_dtype`: float64 keeps the positions exact to ~1e-12 px after grid_sample's
    normalisation (outputs agree with torchvision to ~1e-6); float32 is faster but the normalised
    positions lose ~1e-5 px on a 128-wide map (outputs within ~3e-5).
    """
    n, c, h, w = x.shape
    out_ch, in_ch, kh, kw = weight.shape
    if in_ch != c:
        raise ValueError(f"grouped weights are not supported: weight has {in_ch} input channels, x has {c}")
    if h < 2 or w < 2:  # grid_sample cannot address a 1-pixel axis with align_corners=True
        return deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)
    ho, wo = offset.shape[-2:]
    expected = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1
                     for size, k, s, p, d in zip((h, w), (kh, kw), stride, padding, dilation))
    if (ho, wo) != expected:
        raise ValueError(f"offset map is {ho}x{wo}, the convolution's output is {expected[0]}x{expected[1]}")
    taps = kh * kw
    groups = offset.shape[1] // (2 * taps)  # deformable (offset) groups
    dev, dt = x.device, x.dtype

    # sample positions, as torchvision: (out_y * stride - pad) + i * dilation + offset_y
    off = offset.reshape(n, groups, taps, 2, ho, wo)
    base_y = torch.arange(ho, device=dev, dtype=dt) * stride[0] - padding[0]
    base_x = torch.arange(wo, device=dev, dtype=dt) * stride[1] - padding[1]
    tap_y = torch.arange(kh, device=dev, dtype=dt).repeat_interleave(kw) * dilation[0]
    tap_x = torch.arange(kw, device=dev, dtype=dt).repeat(kh) * dilation[1]
    py = (base_y.view(1, 1, 1, ho, 1) + tap_y.view(1, 1, taps, 1, 1)) + off[:, :, :, 0]
    px = (base_x.view(1, 1, 1, 1, wo) + tap_x.view(1, 1, taps, 1, 1)) + off[:, :, :, 1]
    gy = py.to(sample_dtype) * (2.0 / (h - 1)) - 1.0
    gx = px.to(sample_dtype) * (2.0 / (w - 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1).view(n * groups, taps * ho, wo, 2)
    src = x.reshape(n * groups, c // groups, h, w).to(sample_dtype)
    sampled = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True).to(dt)
    # (n, groups, c / groups, taps, ho, wo) -> rows (channel, tap) match weight.view(out, c * taps)
    cols = sampled.view(n, groups, c // groups, taps, ho, wo) * mask.reshape(n, groups, 1, taps, ho, wo)
    out = torch.matmul(weight.reshape(out_ch, c * taps), cols.view(n, c * taps, ho * wo))
    if bias is not None:
        out = out + bias.view(1, out_ch, 1)
    return out.view(n, out_ch, ho, wo)


def modulated_deform_conv2d(
    x: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Tensor:
    """torchvision's modulated deformable conv, or the equal sampled form for float32 on CPU."""
    if FAST_CPU and x.device.type == "cpu" and x.dtype == torch.float32:
        return sampled_deform_conv2d(x, offset, mask, weight, bias, stride, padding, dilation)
    return deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)


class DCN(nn.Module):
    """DCNv2 layer: `conv_offset_mask` predicts per-tap offsets and masks, then a deformable conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int],
        padding: int | tuple[int, int],
        dilation: int | tuple[int, int] = 1,
        deformable_groups: int = 1,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.deformable_groups = deformable_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        taps = self.kernel_size[0] * self.kernel_size[1]
        # the offset conv samples the same window as the deformable conv, so its output grid matches
        # (the original leaves out the dilation, which only matters for dilation > 1, never used)
        self.conv_offset_mask = nn.Conv2d(
            in_channels, deformable_groups * 3 * taps, self.kernel_size, stride=self.stride, padding=self.padding,
            dilation=self.dilation, bias=True,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Original DCNv2 init: uniform weight, zero bias, zero offsets and masks (sigmoid 0.5)."""
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def offset_and_mask(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(offset, mask) as the original splits `conv_offset_mask`'s output."""
        o1, o2, m = torch.chunk(self.conv_offset_mask(x), 3, dim=1)
        return torch.cat((o1, o2), dim=1), torch.sigmoid(m)

    def forward(self, x: Tensor) -> Tensor:
        offset, mask = self.offset_and_mask(x)
        return modulated_deform_conv2d(x, offset, mask, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, deformable_groups={self.deformable_groups}"
        )

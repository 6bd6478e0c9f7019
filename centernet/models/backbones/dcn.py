"""Modulated deformable convolution (DCNv2) with the original extension's module layout.

`DCN` holds `weight`, `bias` and `conv_offset_mask` exactly as the original DCNv2 module, so the
zoo files load strictly. The offset/mask split follows the original: the offset conv's output is
chunked in three, the first two thirds (in order) are the (dy, dx) offsets interleaved per kernel
tap, and the sigmoid of the last third is the modulation mask.

Two computations of the same operation:
- `torchvision.ops.deform_conv2d`: the reference (the same operation as the original's CUDA-only
  DCNv2, and bit-for-bit the stand-in the reference harness runs it with). A loaded model uses it.
- `gathered_deform_conv2d`: per kernel tap, the four bilinear corners gathered as rows of the
  channels_last input (mask folded into the corner weights), then a matmul with that tap's
  weights. Equal to the reference up to float32 summation order (~2e-6 per layer), 3-5x faster on
  CPU in float32 and runs in bfloat16 (torchvision has no bfloat16 kernel). The engine switches its copy of a model
  to it (`use_fast_deform_conv`); any DCN falls back to it for dtypes torchvision cannot run.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair


def _tap_positions(offset: Tensor, kernel: tuple[int, int], stride, padding, dilation) -> tuple[Tensor, Tensor]:
    """Sample positions (y, x) in float32, each (G, taps, N, Ho, Wo): as torchvision,
    (out_y * stride - pad) + i * dilation + offset_y (offsets (dy, dx) interleaved per tap)."""
    n, _, ho, wo = offset.shape
    kh, kw = kernel
    taps = kh * kw
    f32, dev = torch.float32, offset.device
    off = offset.to(f32).reshape(n, -1, taps, 2, ho, wo).permute(1, 2, 3, 0, 4, 5)  # (G, taps, 2, N, Ho, Wo)
    base_y = torch.arange(ho, device=dev, dtype=f32) * stride[0] - padding[0]
    base_x = torch.arange(wo, device=dev, dtype=f32) * stride[1] - padding[1]
    tap_y = torch.arange(kh, device=dev, dtype=f32).repeat_interleave(kw) * dilation[0]
    tap_x = torch.arange(kw, device=dev, dtype=f32).repeat(kh) * dilation[1]
    py = (tap_y.view(1, taps, 1, 1, 1) + base_y.view(1, 1, 1, ho, 1)) + off[:, :, 0]
    px = (tap_x.view(1, taps, 1, 1, 1) + base_x.view(1, 1, 1, 1, wo)) + off[:, :, 1]
    return py, px


def _bilinear_corners(py: Tensor, px: Tensor, mask: Tensor, h: int, w: int, dtype: torch.dtype):
    """The four corners of every sample as (flat row index, weight) pairs; the weight folds in the
    modulation mask and is 0 for a corner outside the (h, w) image (its index then points at row 0)."""
    n = py.shape[-3]
    image_base = (torch.arange(n, device=py.device) * (h * w)).view(n, 1, 1)
    y0, x0 = torch.floor(py), torch.floor(px)
    ly, lx = py - y0, px - x0
    y0, x0 = y0.long(), x0.long()
    corners = []
    for dy, dx, weight in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx),
                           (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        corners.append((torch.where(inside, yy * w + xx + image_base, 0),
                        torch.where(inside, weight * mask, 0).to(dtype)))
    return corners


def gathered_deform_conv2d(
    x: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Tensor:
    """Modulated deformable conv as row gathers + one matmul per kernel tap; torchvision's arguments
    (groups 1).

    Per tap, the four bilinear corners of every output pixel's sample are gathered as rows (channels
    contiguous when x is channels_last) and blended with weights that fold in the mask, then that
    (pixels, channels) block is multiplied by the tap's (channels, out) slice of the weight and
    accumulated: working tap by tap keeps each block small enough for the caches (2-3x faster than
    gathering all taps first). Positions and corner weights are float32, as torchvision computes
    them; gathers, products and matmuls run in x's dtype. A sample wholly outside reads 0, as
    torchvision. The result is (N, out, Ho, Wo) in channels_last memory.
    """
    n, c, h, w = x.shape
    out_ch, in_ch, kh, kw = weight.shape
    if in_ch != c:
        raise ValueError(f"grouped weights are not supported: weight has {in_ch} input channels, x has {c}")
    taps = kh * kw
    ho, wo = offset.shape[-2:]
    expected = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1
                     for size, k, s, p, d in zip((h, w), (kh, kw), stride, padding, dilation))
    if (ho, wo) != expected:
        raise ValueError(f"offset map is {ho}x{wo}, the convolution's output is {expected[0]}x{expected[1]}")
    groups = offset.shape[1] // (2 * taps)  # deformable (offset) groups, each owning c / groups channels
    dt = x.dtype
    py, px = _tap_positions(offset, (kh, kw), stride, padding, dilation)
    m = mask.to(torch.float32).reshape(n, groups, taps, ho, wo).permute(1, 2, 0, 3, 4)  # (G, taps, N, Ho, Wo)
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view when x is channels_last
    per_group = c // groups
    tap_weights = weight.to(dt).permute(2, 3, 1, 0).reshape(taps, c, out_ch)  # (tap, in, out)
    corners = [_bilinear_corners(py[g], px[g], m[g], h, w, dt) for g in range(groups)]
    out = None
    for t in range(taps):
        blocks = []
        for g in range(groups):
            group_rows = rows[:, g * per_group:(g + 1) * per_group]
            acc = None
            for index, weight_of in corners[g]:
                picked = group_rows.index_select(0, index[t].reshape(-1))  # (N*Ho*Wo, c / groups)
                wv = weight_of[t].reshape(-1, 1)
                acc = picked.mul_(wv) if acc is None else acc.addcmul_(picked, wv)
            blocks.append(acc)
        sampled = blocks[0] if groups == 1 else torch.cat(blocks, dim=1)
        out = sampled @ tap_weights[t] if out is None else out.addmm_(sampled, tap_weights[t])
    if bias is not None:
        out = out + bias.to(dt)
    return out.view(n, ho, wo, out_ch).permute(0, 3, 1, 2)


def reference_deform_conv2d(*args, **kwargs) -> Tensor:
    """`torchvision.ops.deform_conv2d`, imported on first use: importing torchvision takes 1.5 s (its models and
    datasets come with it), which every command's start paid for a kernel that only a DCN model's reference path
    runs (the default models have no DCN)."""
    from torchvision.ops import deform_conv2d
    return deform_conv2d(*args, **kwargs)


def reference_supports(x: Tensor) -> bool:
    """torchvision's kernel runs float32/float64 everywhere and float16 on CUDA."""
    return x.dtype in (torch.float32, torch.float64) or (x.dtype == torch.float16 and x.is_cuda)


def use_fast_deform_conv(model: nn.Module, enabled: bool = True) -> int:
    """Switch every DCN of `model` to (or back from) `gathered_deform_conv2d`; returns how many."""
    layers = [m for m in model.modules() if isinstance(m, DCN)]
    for layer in layers:
        layer.fast = enabled
    return len(layers)


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
        self.fast = False  # True: gathered_deform_conv2d (see use_fast_deform_conv)
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
        if self.fast or not reference_supports(x):
            return gathered_deform_conv2d(x, offset, mask, self.weight, self.bias, self.stride, self.padding,
                                          self.dilation)
        return reference_deform_conv2d(x, offset, self.weight.to(x.dtype), self.bias.to(x.dtype), stride=self.stride,
                                       padding=self.padding, dilation=self.dilation, mask=mask.to(x.dtype))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, deformable_groups={self.deformable_groups}"
        )

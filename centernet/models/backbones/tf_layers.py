"""Layers that compute what TensorFlow computes, for the models ported from TF.js graphs.

Three details decide whether a port matches its graph (measured on the default models: each one,
done the PyTorch way, turns 100/100 matching detections into 0/100 or 46/100):
- 'SAME' padding: for stride 2 on an even size TF pads (k - 2) // 2 before and the rest after,
  not k // 2 on both sides (`tf_same_padding`, `TFConv2d`);
- ResizeBilinear with align_corners and half_pixel_centers both false (TF's legacy rule,
  source = destination * in / out) is not `F.interpolate`'s rule (`resize_bilinear_tf_legacy`);
- hard-swish multiplies by the graph's stored float16 constant, not by 1/6 (`HardSwish`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TF_ONE_SIXTH = 0.1666259765625  # 1/6 rounded to float16, the constant the graphs store


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of TF's 'SAME' along one axis: output ceil(size / stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TFConv2d(nn.Conv2d):
    """`nn.Conv2d` with TF 'SAME' (or 'VALID') padding and an optional activation after it.

    Stride-1 'SAME' with an odd kernel is symmetric and uses the conv's own padding; strided
    'SAME' pads per call from the input size. Parameters are the conv's `weight` and `bias`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = True, act: nn.Module | None = None, same: bool = True):
        symmetric = same and stride == 1
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2 if symmetric else 0, groups=groups, bias=bias)
        self.dynamic_same = same and stride != 1
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dynamic_same:
            k, s = self.kernel_size[0], self.stride[0]
            top, bottom = tf_same_padding(x.shape[-2], k, s)
            left, right = tf_same_padding(x.shape[-1], k, s)
            x = F.pad(x, (left, right, top, bottom))
        return self.act(super().forward(x))


def depthwise(channels: int, kernel_size: int, stride: int = 1, bias: bool = True,
              act: nn.Module | None = None) -> TFConv2d:
    return TFConv2d(channels, channels, kernel_size, stride, groups=channels, bias=bias, act=act)


def pointwise(in_channels: int, out_channels: int, bias: bool = True, act: nn.Module | None = None) -> TFConv2d:
    return TFConv2d(in_channels, out_channels, 1, bias=bias, act=act)


class HardSwish(nn.Module):
    """x * relu6(x + 3) * c, evaluated in the graph's order: (c * x) * relu6(x + 3)."""

    def __init__(self, c: float = TF_ONE_SIXTH):
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.c) * F.relu6(x + 3.0)


class HardSigmoid(nn.Module):
    """relu6(x + 3) * c, the squeeze-excite gate of MobileNetV3 graphs."""

    def __init__(self, c: float = TF_ONE_SIXTH):
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) * self.c


def _legacy_source(out_size: int, in_size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices (lo, hi) and weight of hi for TF's legacy resize along one axis."""
    # TF: float(in) / out; a Python float times a float32 tensor is computed in float32
    src = torch.arange(out_size, dtype=torch.float32, device=device) * (in_size / out_size)
    lo = src.floor()
    frac = src - lo
    lo = lo.long()
    hi = torch.clamp(lo + 1, max=in_size - 1)
    return lo, hi, frac


def resize_bilinear_tf_legacy(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF ResizeBilinear(align_corners=False, half_pixel_centers=False) of an NCHW tensor.

    Source coordinate = destination * in / out (no half-pixel shift); interpolates along x first,
    then y, like TF's kernels: top = tl + (tr - tl) * fx, out = top + (bottom - top) * fy.
    """
    out_h, out_w = int(size[0]), int(size[1])
    in_h, in_w = x.shape[-2], x.shape[-1]
    y0, y1, fy = _legacy_source(out_h, in_h, x.device)
    x0, x1, fx = _legacy_source(out_w, in_w, x.device)
    fx = fx.to(x.dtype).view(1, 1, 1, out_w)
    fy = fy.to(x.dtype).view(1, 1, out_h, 1)
    rows0 = x.index_select(2, y0)
    rows1 = x.index_select(2, y1)
    top = rows0.index_select(3, x0)
    top = top + (rows0.index_select(3, x1) - top) * fx
    bottom = rows1.index_select(3, x0)
    bottom = bottom + (rows1.index_select(3, x1) - bottom) * fx
    return top + (bottom - top) * fy

"""The two-stack large hourglass (CornerNet's Hourglass-104): the original `hourglass` model.

Layout (the zoo's `large_hourglass.py`):
- `pre`: 7x7 stride-2 conv + BN + ReLU (128), then a stride-2 residual to 256 channels (stride 4);
- `kps.<stack>`: a 5-level hourglass, channels 256, 256, 384, 384, 384, 512 and 2, 2, 2, 2, 2, 4
  residuals per level; down-sampling by stride-2 residuals, up-sampling by nearest x2, merge = sum;
- `cnvs.<stack>`: 3x3 conv + BN + ReLU (256);
- between stacks: `inters_` (1x1 conv + BN of the stack input) + `cnvs_` (1x1 conv + BN of the
  stack output), summed, ReLU, then the residual `inters`;
- heads per stack `<name>.<stack>.0.conv` (3x3, bias, ReLU) -> `<name>.<stack>.1` (1x1), 256 wide.
All BatchNorms use eps 1e-5 and momentum 0.1. Input sides must be multiples of 128.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from centernet.models.heads import init_head, is_heatmap_head
from centernet.models.backbones.input_checks import check_input_multiple

torch.fx.wrap("check_input_multiple")  # traced as one call (see input_checks.py)

HOURGLASS_DIMS = (256, 256, 384, 384, 384, 512)
HOURGLASS_MODULES = (2, 2, 2, 2, 2, 4)
CNV_DIM = 256


class ConvBnRelu(nn.Module):
    """k x k conv (bias only without BN), BN (or nothing), ReLU: keys `conv.*`, `bn.*`."""

    def __init__(self, k: int, in_dim: int, out_dim: int, stride: int = 1, with_bn: bool = True) -> None:
        super().__init__()
        pad = (k - 1) // 2
        self.conv = nn.Conv2d(in_dim, out_dim, k, padding=pad, stride=stride, bias=not with_bn)
        self.bn = nn.BatchNorm2d(out_dim) if with_bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Residual(nn.Module):
    """Two 3x3 conv + BN with a skip (1x1 conv + BN when the shape changes), ReLU of the sum."""

    def __init__(self, in_dim: int, out_dim: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, out_dim, 3, padding=1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(out_dim)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_dim, out_dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_dim)
        if stride != 1 or in_dim != out_dim:
            self.skip = nn.Sequential(nn.Conv2d(in_dim, out_dim, 1, stride=stride, bias=False), nn.BatchNorm2d(out_dim))
        else:
            self.skip = nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.skip(x))


def _residuals(in_dim: int, out_dim: int, count: int, stride: int = 1) -> nn.Sequential:
    """`count` residuals, the first one changing dims (and stride)."""
    return nn.Sequential(Residual(in_dim, out_dim, stride), *[Residual(out_dim, out_dim) for _ in range(count - 1)])


def _residuals_reversed(in_dim: int, out_dim: int, count: int) -> nn.Sequential:
    """`count` residuals, the last one changing dims."""
    return nn.Sequential(*[Residual(in_dim, in_dim) for _ in range(count - 1)], Residual(in_dim, out_dim))


class HourglassModule(nn.Module):
    """One hourglass level: `up1` keeps resolution; `low1` halves it, `low2` recurses (or is the
    bottleneck), `low3` returns to this level's width; the sum with the nearest x2 up-sampling."""

    def __init__(self, n: int, dims: tuple[int, ...], modules: tuple[int, ...]) -> None:
        super().__init__()
        curr_dim, next_dim = dims[0], dims[1]
        curr_mod, next_mod = modules[0], modules[1]
        self.up1 = _residuals(curr_dim, curr_dim, curr_mod)
        self.low1 = _residuals(curr_dim, next_dim, curr_mod, stride=2)
        if n > 1:
            self.low2: nn.Module = HourglassModule(n - 1, dims[1:], modules[1:])
        else:
            self.low2 = _residuals(next_dim, next_dim, next_mod)
        self.low3 = _residuals_reversed(next_dim, curr_dim, curr_mod)

    def forward(self, x: Tensor) -> Tensor:
        up1 = self.up1(x)
        low = self.low3(self.low2(self.low1(x)))
        return up1 + F.interpolate(low, scale_factor=2, mode="nearest")


def _head(out_channels: int, heatmap: bool) -> nn.Sequential:
    head = nn.Sequential(ConvBnRelu(3, CNV_DIM, HOURGLASS_DIMS[0], with_bn=False),
                         nn.Conv2d(HOURGLASS_DIMS[0], out_channels, 1))
    init_head(head, heatmap)
    return head


class HourglassNet(nn.Module):
    """Stacked hourglass; `forward` gives the last stack's heads, `forward_stacks` every stack's."""

    def __init__(self, heads: dict[str, int], num_stacks: int = 2, n: int = 5,
                 dims: tuple[int, ...] = HOURGLASS_DIMS, modules: tuple[int, ...] = HOURGLASS_MODULES) -> None:
        super().__init__()
        self.heads = dict(heads)
        self.num_stacks = num_stacks
        curr_dim = dims[0]
        self.pre = nn.Sequential(ConvBnRelu(7, 3, 128, stride=2), Residual(128, curr_dim, stride=2))
        self.kps = nn.ModuleList([HourglassModule(n, dims, modules) for _ in range(num_stacks)])
        self.cnvs = nn.ModuleList([ConvBnRelu(3, curr_dim, CNV_DIM) for _ in range(num_stacks)])
        self.inters = nn.ModuleList([Residual(curr_dim, curr_dim) for _ in range(num_stacks - 1)])
        self.inters_ = nn.ModuleList([
            nn.Sequential(nn.Conv2d(curr_dim, curr_dim, 1, bias=False), nn.BatchNorm2d(curr_dim))
            for _ in range(num_stacks - 1)
        ])
        self.cnvs_ = nn.ModuleList([
            nn.Sequential(nn.Conv2d(CNV_DIM, curr_dim, 1, bias=False), nn.BatchNorm2d(curr_dim))
            for _ in range(num_stacks - 1)
        ])
        for name, classes in self.heads.items():
            self.add_module(name, nn.ModuleList([_head(classes, is_heatmap_head(name)) for _ in range(num_stacks)]))
        self.relu = nn.ReLU(inplace=True)

    def _stack_features(self, x: Tensor, keep: bool) -> list[Tensor]:
        """The `cnvs` output of every stack (`keep`) or only of the last one."""
        check_input_multiple(x, 128, "hourglass")
        inter = self.pre(x)
        feats = []
        for ind in range(self.num_stacks):
            cnv = self.cnvs[ind](self.kps[ind](inter))
            if keep or ind == self.num_stacks - 1:
                feats.append(cnv)
            if ind < self.num_stacks - 1:
                inter = self.relu(self.inters_[ind](inter) + self.cnvs_[ind](cnv))
                inter = self.inters[ind](inter)
        return feats

    def _heads(self, feat: Tensor, stack: int) -> dict[str, Tensor]:
        return {name: getattr(self, name)[stack](feat) for name in self.heads}

    def forward_stacks(self, x: Tensor) -> list[dict[str, Tensor]]:
        """Raw head outputs of every stack (for training with intermediate supervision)."""
        return [self._heads(feat, ind) for ind, feat in enumerate(self._stack_features(x, keep=True))]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Raw head outputs of the last stack (what the original's inference uses)."""
        (feat,) = self._stack_features(x, keep=False)
        return self._heads(feat, self.num_stacks - 1)


def hourglass(heads: dict[str, int], head_conv: int = 64) -> HourglassNet:
    """`head_conv` is accepted for a uniform builder signature; the hourglass heads are 256 wide."""
    del head_conv
    return HourglassNet(heads, num_stacks=2)

"""DLA-34 with the deformable iterative-deep-aggregation neck: the original `dla_34` model.

Layout (the zoo's `pose_dla_dcn.py` DLASeg, down ratio 4):
- `base`: DLA-34 (channels 16, 32, 64, 128, 256, 512; strides 1, 2, 4, 8, 16, 32), six outputs;
- `dla_up`: `ida_0..2` fold the deepest levels upwards, ending with maps at strides 4, 8, 16, 32;
- `ida_up`: merges the stride 4, 8 and 16 maps into one 64-channel stride-4 map;
- heads `<name>.0` (3x3, head_conv) / `<name>.2` (1x1) on that map, created in the given order.
Every deformable layer is `DeformConv`: DCN 3x3 then BN + ReLU (parameters `conv.*`, `actf.0.*`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from centernet.errors import ConfigError
from centernet.models.heads import is_heatmap_head, make_head
from centernet.models.backbones.dcn import DCN
from centernet.models.backbones.input_checks import check_input_multiple
from centernet.models.backbones.resnet import bilinear_upsample_init_

torch.fx.wrap("check_input_multiple")  # traced as one call (see input_checks.py)

DLA34_LEVELS = (1, 1, 1, 2, 2, 1)
DLA34_CHANNELS = (16, 32, 64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN; the residual may be given by the caller (a tree's projection)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        if residual is None:
            residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Root(nn.Module):
    """1x1 conv + BN over the concatenated children, optional residual from the first, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, residual: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=1, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual

    def forward(self, *children: Tensor) -> Tensor:
        x = self.bn(self.conv(torch.cat(children, 1)))
        if self.residual:
            x = x + children[0]
        return self.relu(x)


class Tree(nn.Module):
    """A DLA aggregation tree; `levels` 1 is two blocks and a root, deeper trees nest."""

    def __init__(
        self,
        levels: int,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        level_root: bool = False,
        root_dim: int = 0,
        root_kernel_size: int = 1,
        dilation: int = 1,
        root_residual: bool = False,
    ) -> None:
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        if levels == 1:
            self.tree1 = BasicBlock(in_channels, out_channels, stride, dilation=dilation)
            self.tree2 = BasicBlock(out_channels, out_channels, 1, dilation=dilation)
            self.root = Root(root_dim, out_channels, root_kernel_size, root_residual)
        else:
            self.tree1 = Tree(levels - 1, in_channels, out_channels, stride, root_dim=0,
                              root_kernel_size=root_kernel_size, dilation=dilation, root_residual=root_residual)
            self.tree2 = Tree(levels - 1, out_channels, out_channels, root_dim=root_dim + out_channels,
                              root_kernel_size=root_kernel_size, dilation=dilation, root_residual=root_residual)
        self.levels = levels
        self.level_root = level_root
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else None
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor, residual: Tensor | None = None, children: list[Tensor] | None = None) -> Tensor:
        # `residual` is accepted for call compatibility with BasicBlock; a tree computes its own
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        residual = self.project(bottom) if self.project is not None else bottom
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, residual)
        if self.levels == 1:
            x2 = self.tree2(x1)
            return self.root(x2, x1, *children)
        children.append(x1)
        return self.tree2(x1, children=children)


class DLA(nn.Module):
    """DLA body; `forward` returns the six level outputs (strides 1 to 32)."""

    def __init__(self, levels: tuple[int, ...] = DLA34_LEVELS, channels: tuple[int, ...] = DLA34_CHANNELS) -> None:
        super().__init__()
        self.channels = list(channels)
        self.base_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], kernel_size=7, stride=1, padding=3, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        )
        self.level0 = self._make_conv_level(channels[0], channels[0], levels[0])
        self.level1 = self._make_conv_level(channels[0], channels[1], levels[1], stride=2)
        self.level2 = Tree(levels[2], channels[1], channels[2], 2, level_root=False)
        self.level3 = Tree(levels[3], channels[2], channels[3], 2, level_root=True)
        self.level4 = Tree(levels[4], channels[3], channels[4], 2, level_root=True)
        self.level5 = Tree(levels[5], channels[4], channels[5], 2, level_root=True)

    @staticmethod
    def _make_conv_level(inplanes: int, planes: int, convs: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        modules: list[nn.Module] = []
        for i in range(convs):
            modules += [
                nn.Conv2d(inplanes, planes, 3, stride=stride if i == 0 else 1, padding=dilation,
                          dilation=dilation, bias=False),
                nn.BatchNorm2d(planes),
                nn.ReLU(inplace=True),
            ]
            inplanes = planes
        return nn.Sequential(*modules)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.base_layer(x)
        levels = []
        for i in range(6):
            x = getattr(self, f"level{i}")(x)
            levels.append(x)
        return levels


class DeformConv(nn.Module):
    """DCN 3x3 then BN + ReLU; `actf` is registered first, as the zoo's key order has it."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.actf = nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.conv = DCN(in_channels, out_channels, kernel_size=3, stride=1, padding=1, dilation=1, deformable_groups=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.actf(self.conv(x))


class IDAUp(nn.Module):
    """Iterative deep aggregation: project, up-sample and merge each map into its finer neighbour.

    For input maps i = 1..len(channels)-1: `proj_i` (to `out_channels`), `up_i` (depthwise
    transposed conv by `up_factors[i]`, bilinear init), `node_i` over the sum with map i - 1.
    """

    def __init__(self, out_channels: int, channels: list[int], up_factors: list[int]) -> None:
        super().__init__()
        for i in range(1, len(channels)):
            f = int(up_factors[i])
            up = nn.ConvTranspose2d(out_channels, out_channels, f * 2, stride=f, padding=f // 2,
                                    output_padding=0, groups=out_channels, bias=False)
            bilinear_upsample_init_(up)
            setattr(self, f"proj_{i}", DeformConv(channels[i], out_channels))
            setattr(self, f"up_{i}", up)
            setattr(self, f"node_{i}", DeformConv(out_channels, out_channels))

    def forward(self, layers: list[Tensor], start: int, end: int) -> None:
        """Rewrite `layers[start + 1 : end]` in place, each merged with the (new) map before it."""
        for i in range(start + 1, end):
            j = i - start
            up = getattr(self, f"up_{j}")(getattr(self, f"proj_{j}")(layers[i]))
            layers[i] = getattr(self, f"node_{j}")(up + layers[i - 1])


class DLAUp(nn.Module):
    """`ida_0` merges the two deepest maps, `ida_1` the three deepest, ... down to `first_level`."""

    def __init__(self, first_level: int, channels: list[int], scales: list[int]) -> None:
        super().__init__()
        self.first_level = first_level
        in_channels = list(channels)
        scales = list(scales)
        for i in range(len(channels) - 1):
            j = len(channels) - 2 - i
            setattr(self, f"ida_{i}", IDAUp(channels[j], in_channels[j:], [s // scales[j] for s in scales[j:]]))
            # after this stage every map from j on has channels[j] channels at scale scales[j]
            scales[j + 1:] = [scales[j]] * (len(scales) - j - 1)
            in_channels[j + 1:] = [channels[j]] * (len(in_channels) - j - 1)

    def forward(self, levels: list[Tensor]) -> list[Tensor]:
        """Maps from the finest (stride 2**first_level) to the deepest, as the original returns them."""
        layers = list(levels)
        out = [layers[-1]]
        for i in range(len(layers) - self.first_level - 1):
            getattr(self, f"ida_{i}")(layers, len(layers) - i - 2, len(layers))
            out.insert(0, layers[-1])
        return out


class DLASeg(nn.Module):
    """DLA-34 + deformable IDA-up neck + heads; output stride 4, raw head logits."""

    num_stacks = 1

    def __init__(self, heads: dict[str, int], head_conv: int = 256, down_ratio: int = 4, last_level: int = 5) -> None:
        super().__init__()
        if down_ratio not in (2, 4, 8, 16):
            raise ConfigError(f"DLA down_ratio must be 2, 4, 8 or 16, got {down_ratio}")
        if head_conv <= 0:
            raise ConfigError(f"head_conv must be positive for dla models, got {head_conv}")
        self.heads = dict(heads)
        self.first_level = down_ratio.bit_length() - 1
        self.last_level = last_level
        self.base = DLA()
        channels = self.base.channels
        scales = [2 ** i for i in range(len(channels) - self.first_level)]
        self.dla_up = DLAUp(self.first_level, channels[self.first_level:], scales)
        out_channels = channels[self.first_level]
        self.ida_up = IDAUp(out_channels, channels[self.first_level:last_level],
                            [2 ** i for i in range(last_level - self.first_level)])
        for name, classes in self.heads.items():
            self.add_module(name, make_head(out_channels, classes, head_conv, is_heatmap_head(name)))

    def features(self, x: Tensor) -> Tensor:
        """The 64-channel stride-4 map the heads read."""
        check_input_multiple(x, 32, "dla_34")
        maps = self.dla_up(self.base(x))
        y = maps[: self.last_level - self.first_level]
        self.ida_up(y, 0, len(y))
        return y[-1]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        feat = self.features(x)
        return {name: getattr(self, name)(feat) for name in self.heads}


def dla_34(heads: dict[str, int], head_conv: int = 256) -> DLASeg:
    return DLASeg(heads, head_conv=head_conv, down_ratio=4, last_level=5)

"""ResNet with up-sampling layers ("PoseResNet"): the original res_* and resdcn_* models.

- res_N: torchvision-style ResNet-N, then three ConvTranspose2d(4x4, stride 2, pad 1) + BN + ReLU
  stages of 256 channels (the original `msra_resnet.py`); heads take 256 channels.
- resdcn_N: ResNet-N, then three stages of DCN 3x3 + BN + ReLU + ConvTranspose2d(4x4, stride 2)
  + BN + ReLU with 256, 128 and 64 channels (the original `resnet_dcn.py`); heads take 64 channels.

Module paths and parameter names are the zoo's (`conv1`, `bn1`, `layer1..4`, `deconv_layers.N`,
heads `<name>.0` / `<name>.2`). BatchNorm uses eps 1e-5, momentum 0.1 as the original.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from centernet.errors import ConfigError
from centernet.models.heads import is_heatmap_head, make_head
from centernet.models.backbones.dcn import DCN


def conv3x3(inplanes: int, planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN, plus the (down-sampled) input. The original's, which torchvision's is too: ours so
    that building a model does not import torchvision (1.5 s at every command's start)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """1x1 down, 3x3 (with the stride), 1x1 up to 4x the planes, each with BN, plus the (down-sampled) input."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


# depth -> (block, blocks per stage); the blocks match the original's (stride on the 3x3 conv)
RESNET_SPECS: dict[int, tuple[type[nn.Module], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


def bilinear_upsample_init_(up: nn.ConvTranspose2d) -> None:
    """Set `weight[c, 0]` of every output channel to a bilinear up-sampling kernel (original init)."""
    w = up.weight.data
    if w.is_meta:
        return
    k = w.size(2)
    f = math.ceil(k / 2)
    centre = (2 * f - 1 - f % 2) / (2.0 * f)
    ramp = torch.tensor([1 - math.fabs(i / f - centre) for i in range(k)], dtype=w.dtype)
    w[:, 0] = (ramp[:, None] * ramp[None, : w.size(3)]).to(w.device)


class PoseResNet(nn.Module):
    """ResNet body, up-sampling to stride 4, one head per output; `forward` returns raw logits."""

    num_stacks = 1

    def __init__(self, depth: int, heads: dict[str, int], head_conv: int, deformable: bool) -> None:
        super().__init__()
        if depth not in RESNET_SPECS:
            raise ConfigError(f"no ResNet-{depth}: use one of {', '.join(map(str, RESNET_SPECS))}")
        if head_conv <= 0:
            raise ConfigError(f"head_conv must be positive for res/resdcn models, got {head_conv}")
        block, blocks = RESNET_SPECS[depth]
        self.heads = dict(heads)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, blocks[0])
        self.layer2 = self._make_layer(block, 128, blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, blocks[3], stride=2)
        if deformable:
            self.deconv_layers = self._make_dcn_up_layers([256, 128, 64])
            # the original creates these heads in the given order
            head_order = list(self.heads)
        else:
            self.deconv_layers = self._make_deconv_layers([256, 256, 256])
            # the original creates the plain-ResNet heads in sorted order (state-dict order)
            head_order = sorted(self.heads)
        for name in head_order:
            self.add_module(name, make_head(self.inplanes, self.heads[name], head_conv, is_heatmap_head(name)))

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        out_planes = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out_planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, out_planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = out_planes
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _make_deconv_layers(self, channels: list[int]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for planes in channels:
            up = nn.ConvTranspose2d(self.inplanes, planes, 4, stride=2, padding=1, output_padding=0, bias=False)
            nn.init.normal_(up.weight, std=0.001)
            layers += [up, nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
            self.inplanes = planes
        return nn.Sequential(*layers)

    def _make_dcn_up_layers(self, channels: list[int]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for planes in channels:
            up = nn.ConvTranspose2d(planes, planes, 4, stride=2, padding=1, output_padding=0, bias=False)
            bilinear_upsample_init_(up)
            layers += [
                DCN(self.inplanes, planes, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(planes),
                nn.ReLU(inplace=True),
                up,
                nn.BatchNorm2d(planes),
                nn.ReLU(inplace=True),
            ]
            self.inplanes = planes
        return nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """Stride-4 feature map the heads read."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.deconv_layers(x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        feat = self.features(x)
        return {name: getattr(self, name)(feat) for name in self.heads}


def res_18(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(18, heads, head_conv, deformable=False)


def res_34(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(34, heads, head_conv, deformable=False)


def res_50(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(50, heads, head_conv, deformable=False)


def res_101(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(101, heads, head_conv, deformable=False)


def resdcn_18(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(18, heads, head_conv, deformable=True)


def resdcn_34(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(34, heads, head_conv, deformable=True)


def resdcn_50(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(50, heads, head_conv, deformable=True)


def resdcn_101(heads: dict[str, int], head_conv: int = 64) -> PoseResNet:
    return PoseResNet(101, heads, head_conv, deformable=True)

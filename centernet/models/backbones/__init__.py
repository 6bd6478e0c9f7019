"""Model builders by arch name, with the original model zoo's layouts.

Every builder is `builder(heads: dict[str, int], head_conv: int) -> nn.Module`; the model's
`forward(x)` takes NCHW float32 and returns the raw head outputs (logits) of its last stack at
output stride 4, and it has `num_stacks` (multi-stack models also have `forward_stacks(x)`).
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from centernet.models.backbones.dla import dla_34
from centernet.models.backbones.hourglass import hourglass
from centernet.models.backbones.mobilenetv3 import build_mobilenetv3
from centernet.models.backbones.movenet import build_movenet
from centernet.models.backbones.resnet import res_18, res_34, res_50, res_101, resdcn_18, resdcn_34, resdcn_50, resdcn_101

Builder = Callable[[dict[str, int], int], nn.Module]

BACKBONES: dict[str, Builder] = {
    "res_18": res_18,
    "res_34": res_34,
    "res_50": res_50,
    "res_101": res_101,
    "resdcn_18": resdcn_18,
    "resdcn_34": resdcn_34,
    "resdcn_50": resdcn_50,
    "resdcn_101": resdcn_101,
    "dla_34": dla_34,
    "hourglass": hourglass,
    "mobilenetv3": build_mobilenetv3,
    "movenet": build_movenet,
}

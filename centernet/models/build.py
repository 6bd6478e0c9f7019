"""build_model(arch, task): a backbone from the registry with the task's heads."""
from __future__ import annotations

from torch import nn

from centernet.errors import ConfigError
from centernet.models.backbones import BACKBONES
from centernet.models.heads import DEFAULT_NUM_CLASSES, TASKS, task_heads

# head_conv of the original model zoo per arch family (the hourglass ignores it: heads are 256 wide)
HEAD_CONV = {"res": 64, "resdcn": 64, "dla": 256, "hourglass": 64, "mobilenetv3": 64, "movenet": 64}


def available_archs() -> list[str]:
    return sorted(BACKBONES)


def default_head_conv(arch: str) -> int:
    return HEAD_CONV.get(arch.split("_")[0], 64)


def build_model(arch: str, task: str = "ctdet", num_classes: int | None = None,
                heads: dict[str, int] | None = None, head_conv: int | None = None) -> nn.Module:
    """A CenterNet for `arch` with the heads of `task` (or the explicit `heads`), in eval mode."""
    if arch not in BACKBONES:
        raise ConfigError(f"unknown arch {arch!r}: use one of {', '.join(sorted(BACKBONES))}")
    if heads is None:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
        heads = task_heads(task, DEFAULT_NUM_CLASSES[task] if num_classes is None else num_classes)
    model = BACKBONES[arch](dict(heads), default_head_conv(arch) if head_conv is None else head_conv)
    return model.eval()

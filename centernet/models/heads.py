"""Task specs and the per-task output heads.

Head names, widths and order are the original model zoo's, so state dicts load strictly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from centernet.errors import ConfigError

HEATMAP_PRIOR_BIAS = -2.19  # sigmoid(-2.19) ~= 0.1: focal loss starts from a low, stable prior
NUM_JOINTS = 17


def task_heads(task: str, num_classes: int) -> dict[str, int]:
    """Head name -> output channels, in the original's order for the task."""
    if task == "ctdet":
        return {"hm": num_classes, "wh": 2, "reg": 2}
    if task == "multi_pose":
        return {"hm": 1, "wh": 2, "hps": 2 * NUM_JOINTS, "reg": 2, "hm_hp": NUM_JOINTS, "hp_offset": 2}
    if task == "ddd":
        return {"hm": num_classes, "dep": 1, "rot": 8, "dim": 3, "wh": 2, "reg": 2}
    raise ConfigError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")


TASKS = ("ctdet", "multi_pose", "ddd")
DEFAULT_NUM_CLASSES = {"ctdet": 80, "multi_pose": 1, "ddd": 3}


@dataclass(frozen=True)
class TaskSpec:
    """What a model predicts: task, heads and output stride."""

    task: str
    heads: dict = field(hash=False)
    down_ratio: int = 4

    @staticmethod
    def for_task(task: str, num_classes: int | None = None) -> "TaskSpec":
        n = DEFAULT_NUM_CLASSES.get(task, 80) if num_classes is None else num_classes
        return TaskSpec(task, task_heads(task, n))

    @property
    def num_classes(self) -> int:
        return self.heads["hm"]


def is_heatmap_head(name: str) -> bool:
    """Heads read through a sigmoid whose last bias starts at the prior."""
    return name in ("hm", "hm_hp")


def make_head(in_channels: int, out_channels: int, head_conv: int, heatmap: bool) -> nn.Sequential:
    """3x3 conv -> ReLU -> 1x1 conv, keys `0.*` and `2.*` as in the zoo files."""
    head = nn.Sequential(
        nn.Conv2d(in_channels, head_conv, 3, padding=1, bias=True),
        nn.ReLU(inplace=True),
        nn.Conv2d(head_conv, out_channels, 1, bias=True),
    )
    init_head(head, heatmap)
    return head


def init_head(head: nn.Module, heatmap: bool) -> None:
    """Heatmap heads end at the focal-loss prior; other heads start with zero bias."""
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs[:-1]:
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
    last = convs[-1]
    if heatmap:
        nn.init.constant_(last.bias, HEATMAP_PRIOR_BIAS)
    else:
        nn.init.normal_(last.weight, std=0.001)
        nn.init.zeros_(last.bias)

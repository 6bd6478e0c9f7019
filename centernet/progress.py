"""Progress of long work as plain calls: the library counts, the front end draws.

A long job takes `progress: Progress = no_progress` and calls `progress(task, done)` as it goes, then once
with `finished=True` (also when it fails). The command line turns these calls into tqdm bars
(`app/cli/progress.py`); a GUI, a worker process or a test may do anything else with them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Task:
    """What is being counted: one bar on a terminal."""

    name: str                    # "all inputs", an input's folder, "eval", "explore", "epoch 3/140", a file
    total: int | None = None     # None when unknown (a camera, a stream, a server that sends no length)
    unit: str = "it"             # frame, img, config, step, B (bytes)
    nested: bool = False         # part of a larger task (an input of a job): drawn below, cleared when done


class Progress(Protocol):
    def __call__(self, task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
        """`done` of `task.total` so far (absolute, not an increment); `note` a short status beside it."""


def no_progress(task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
    """The default: a job nobody watches."""


def counted(items: list, progress: Progress, task: Task):
    """Yields `items`, reporting each one done to `progress` (and the end, also when the loop stops early)."""
    done = 0
    progress(task, done)
    try:
        for item in items:
            yield item
            done += 1
            progress(task, done)
    finally:
        progress(task, done, finished=True)

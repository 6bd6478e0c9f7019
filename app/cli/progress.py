"""The library's progress calls as tqdm bars on stderr: one bar per task, nested ones below the open ones."""
from __future__ import annotations

import sys

from tqdm import tqdm

from centernet.progress import Task, no_progress


class Bars:
    """A `centernet.progress.Progress` that draws: `run_job(..., progress=Bars())`."""

    def __init__(self):
        self.open: dict[Task, tqdm] = {}

    def __call__(self, task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
        bar = self.open.get(task)
        if bar is None:
            bar = self.open[task] = tqdm(total=task.total, initial=done, desc=task.name, unit=task.unit,
                                         unit_scale=task.unit == "B", unit_divisor=1024, leave=not task.nested,
                                         position=len(self.open) if task.nested else None, file=sys.stderr,
                                         dynamic_ncols=True)
        elif done != bar.n:
            bar.update(done - bar.n)
        if note:
            bar.set_postfix_str(note)
        if finished:
            bar.close()
            del self.open[task]


def bars(quiet: bool):
    """Bars, or no progress at all under --quiet."""
    return no_progress if quiet else Bars()

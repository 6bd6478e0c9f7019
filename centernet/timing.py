"""A per-stage timer that synchronises the GPU only when timing CUDA work."""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Callable

import torch


class StageTimer:
    """`with timer("net"): ...` records milliseconds per stage; `times` holds the last values."""

    def __init__(self, device: torch.device | str = "cpu", enabled: bool = True):
        self.sync = torch.device(device).type == "cuda" and enabled
        self.enabled = enabled
        self.times: dict[str, float] = {}

    def reset(self) -> None:
        self.times = {}

    @contextmanager
    def __call__(self, stage: str):
        if not self.enabled:
            yield
            return
        if self.sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync:
                torch.cuda.synchronize()
            self.times[stage] = self.times.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0


def median_ms(fn: Callable[[], object], n: int = 50, warmup: int = 5, device: torch.device | str = "cuda") -> float:
    """Median milliseconds of `fn()` over `n` calls after `warmup` untimed ones, each timed by a StageTimer
    (so synchronised when `device` is CUDA: the time is the GPU's work, not its launch)."""
    for _ in range(warmup):
        fn()
    timer, samples = StageTimer(device), []
    for _ in range(n):
        timer.reset()
        with timer("call"):
            fn()
        samples.append(timer.times["call"])
    return statistics.median(samples)


def median_times(records: list[dict]) -> dict[str, float]:
    """Median per stage over several `times` dicts."""
    stages = [s for s in records[0]] if records else []
    return {s: statistics.median(r[s] for r in records if s in r) for s in stages}

"""What the benchmarks share: real frames to time on, the model to time, and variants timed side by side.

`centernet.jobs.bench` (one engine against the plain path) and `centernet.jobs.bench_engines` (every
engine, model and size, with and without load) both build on it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from centernet.errors import ConfigError
from centernet.inference.detector import Detector
from centernet.io.sources import frames_spread_over
from centernet.models.build import build_model
from centernet.models.checkpoint import CheckpointInfo, info_for_original, load_checkpoint
from centernet.models.zoo import ASSETS

FRAME_HW = (720, 1280)


def check_counts(frames: int, batch: int = 1, warmup: int = 0) -> None:
    """Before any work: 0 frames or batches would time nothing and print a 0.0 FPS row (or divide by zero)."""
    for flag, value, least in (("--frames", frames, 1), ("--batch", batch, 1), ("--warmup", warmup, 0)):
        if value < least:
            raise ConfigError(f"{flag} {value} is below {least}: give a whole number of at least {least}")


def bench_frames(n: int = 8, hw: tuple[int, int] = FRAME_HW) -> list[np.ndarray]:
    """n real frames spread evenly over the demo clip, letterboxed (aspect kept) into 1280x720
    uint8; noise frames without the clip."""
    frames = [letterbox(f, hw) for f in frames_spread_over(ASSETS / "demo" / "bikes.mp4", n)]
    rng = np.random.default_rng(0)
    while len(frames) < n:
        frames.append(rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
    return frames


def letterbox(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The image scaled to fit (h, w) with its aspect kept, centred on black."""
    h, w = hw
    scale = min(h / image.shape[0], w / image.shape[1])
    nh, nw = round(image.shape[0] * scale), round(image.shape[1] * scale)
    out = np.zeros((h, w, 3), np.uint8)
    top, left = (h - nh) // 2, (w - nw) // 2
    out[top:top + nh, left:left + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out


@dataclass
class StageStats:
    """Per-stage latency over the timed frames: median, p90, p99 in ms."""

    samples: dict = field(default_factory=dict)

    def add(self, times: dict) -> None:
        for k, v in times.items():
            self.samples.setdefault(k, []).append(v)
        self.samples.setdefault("total", []).append(sum(times.values()))

    def summary(self) -> dict:
        out = {}
        for k, v in self.samples.items():
            a = np.asarray(v)
            out[k] = {"median": round(float(np.median(a)), 3), "p90": round(float(np.percentile(a, 90)), 3),
                      "p99": round(float(np.percentile(a, 99)), 3)}
        return out

    @property
    def fps(self) -> float:
        return 1000.0 / statistics.median(self.samples["total"]) if self.samples.get("total") else 0.0


def model_for(weights: str | None, arch: str | None, task: str) -> tuple[torch.nn.Module, CheckpointInfo]:
    """A checkpoint's model, or an arch with its default initialisation (speed does not depend on weights)."""
    if weights:
        return load_checkpoint(weights)
    model = build_model(arch, task)
    info = info_for_original(model.state_dict(), arch, task)
    return model, info


@dataclass
class Variant:
    """One way of running the same model, timed side by side with the others."""

    name: str
    detector: Detector
    stats: StageStats = field(default_factory=StageStats)
    results: list = field(default_factory=list)


def time_variants(variants: list[Variant], frames: list[np.ndarray], batch: int, warmup: int) -> None:
    """Round-robin over the variants frame batch by frame batch, so load changes hit all of them alike."""
    chunks = [frames[i:i + batch] for i in range(0, len(frames) - batch + 1, batch)]
    for n, chunk in enumerate(chunks):
        for v in variants:
            results = v.detector.detect_batch(chunk)
            if n >= warmup:
                v.stats.add(results[0].timings)  # per-image figures (batch time / batch)
                v.results.extend(results)

"""Helpers of the live tests: a real detector made slower (a model that cannot keep up with its sources, so frames
get skipped) and a folder of real frames."""
from __future__ import annotations

import threading
import time

import cv2


class FlaggedBackend:
    """The real detector's backend, with the flags the live model thread reads set by the test (another backend's:
    OpenVINO's overlapping runs, the CUDA graph's batches); it notes each number of parallel runs it is told, and
    passes it on."""

    def __init__(self, backend, prefers_batch: bool, runs_frames: bool, overlaps_runs: bool):
        self.inner = backend
        self.prefers_batch, self.runs_frames, self.overlaps_runs = prefers_batch, runs_frames, overlaps_runs
        self.told: list[int] = []

    def set_parallel_runs(self, runs: int) -> None:
        self.told.append(runs)
        self.inner.set_parallel_runs(runs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Slowed:
    """The real detector, each forward pass made `delay_s` slower (a model that cannot serve every stream; `delay_s`
    a tuple: the n-th call waits its n-th value, cycling); `prefers_batch`, `runs_frames` and `overlaps_runs` set its
    backend's flags. Counts the frames of each forward pass."""

    def __init__(self, detector, delay_s: float | tuple[float, ...] = 0.0, prefers_batch: bool | None = None,
                 runs_frames: bool = False, overlaps_runs: bool = False):
        self.inner = detector
        self.delays = delay_s if isinstance(delay_s, tuple) else (delay_s,)
        flag = detector.backend.prefers_batch if prefers_batch is None else prefers_batch
        self.backend = FlaggedBackend(detector.backend, flag, runs_frames, overlaps_runs)
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()
        self.running = 0                 # calls under way now ...
        self.most_running = 0            # ... and the most at once

    def _next_delay(self) -> float:
        return self.delays[(len(self.batch_sizes) - 1) % len(self.delays)]

    def __call__(self, image):
        with self.lock:
            self.batch_sizes.append(1)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            delay = self._next_delay()
        try:
            time.sleep(delay)
            return self.inner(image)
        finally:
            with self.lock:
                self.running -= 1

    def detect_batch(self, images):
        with self.lock:
            self.batch_sizes.append(len(images))
            delay = self._next_delay()
        time.sleep(delay)
        return self.inner.detect_batch(images)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def image_folder(folder, video, n=3):
    """`folder` made, holding the first `n` frames of `video` as JPEGs."""
    folder.mkdir()
    cap = cv2.VideoCapture(str(video))
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:02d}.jpg"), cap.read()[1])
    return folder

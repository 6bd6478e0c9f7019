"""Helpers of the live tests: a real detector made slower (a model that cannot keep up with its sources, so frames
get skipped) and a folder of real frames."""
from __future__ import annotations

import time

import cv2


class Slowed:
    """The real detector, each forward pass made `delay_s` slower (a model that cannot serve every stream);
    `prefers_batch` overrides its backend's flag. Counts the frames of each forward pass."""

    def __init__(self, detector, delay_s: float = 0.0, prefers_batch: bool | None = None, runs_frames: bool = False):
        self.inner = detector
        self.delay_s = delay_s
        flag = detector.backend.prefers_batch if prefers_batch is None else prefers_batch
        self.backend = type("Flags", (), {"prefers_batch": flag, "runs_frames": runs_frames})()
        self.batch_sizes: list[int] = []

    def __call__(self, image):
        self.batch_sizes.append(1)
        time.sleep(self.delay_s)
        return self.inner(image)

    def detect_batch(self, images):
        self.batch_sizes.append(len(images))
        time.sleep(self.delay_s)
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

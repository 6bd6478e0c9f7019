"""What every tracker shares: its frozen config, a restart, ids issued from 1 in order of birth, and one
frame's detections as the float64 / int64 numpy arrays it works on."""
from __future__ import annotations

import numpy as np

from centernet.detections import Detections


def detection_arrays(dets: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (N, 4) xyxy float64, scores (N,) float64, labels (N,) int64) of one frame."""
    d = dets.numpy()
    return (d["boxes"].astype(np.float64).reshape(-1, 4), d["scores"].astype(np.float64),
            d["labels"].astype(np.int64))


class TrackerBase:
    """`ids = tracker.update(dets)` once per frame, in order: a track id per detection, -1 for none."""

    def __init__(self, config):
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.tracks: list = []
        self.next_id = 1

    @property
    def ids_issued(self) -> int:
        return self.next_id - 1

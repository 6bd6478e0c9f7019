"""Re-tracking saved detections: every frame through a tracker, in order, into records the writers take."""
from __future__ import annotations

from typing import Iterable

import torch

from centernet.detections import Detections
from centernet.tracking import Tracker
from centernet.io.writers.records import FrameRecord


def retrack(frames: Iterable[tuple[int, Detections]], tracker: Tracker) -> list[FrameRecord]:
    """One record per frame (frame numbers from 1, no gaps) with `track_ids` set by `tracker`."""
    records = []
    for frame, dets in frames:
        tracked = Detections(dets.boxes, dets.scores, dets.labels)
        tracked.track_ids = tracker.update(tracked).to(torch.int64)
        records.append(FrameRecord(index=frame - 1, time_ms=0.0, width=0, height=0, image_id=frame, dets=tracked))
    return records

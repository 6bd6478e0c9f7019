"""MOT Challenge text files: `frame,id,x,y,w,h,score,-1,-1,-1`, one line per tracked detection.

Frames are 1-based (source frame index + 1, so they stay aligned with the video when frames are
sampled); detections whose track is not yet born (id -1) are left out, as trackers' tools expect.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from centernet.io.writers.atomic import atomic_file
from centernet.io.writers.records import FrameRecord


def mot_lines(record: FrameRecord) -> list[str]:
    d = record.dets.numpy()
    if "track_ids" not in d:
        raise ValueError("MOT rows need track ids: run the tracker first")
    lines = []
    for (x1, y1, x2, y2), score, tid in zip(d["boxes"], d["scores"], d["track_ids"]):
        if tid < 1:
            continue
        lines.append(f"{record.index + 1},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.5f},"
                     f"-1,-1,-1")
    return lines


def write_mot(path: Path, records: Iterable[FrameRecord]) -> int:
    """Write a MOT file atomically; returns the number of rows."""
    rows = 0
    with atomic_file(path) as f:
        for record in records:
            for line in mot_lines(record):
                f.write(line + "\n")
                rows += 1
    return rows


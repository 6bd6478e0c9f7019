"""CSV exports: one row per detection, with a header.

Columns: frame (0-based source frame index), time_ms (container timestamp), track_id (empty when not
tracking, -1 before a track is born), class_id (the dataset category id, as in the COCO file),
class_name, score, x1, y1, x2, y2 (image pixels); then `<joint>_x, <joint>_y, <joint>_score` per joint
for multi_pose, or depth, dim_h, dim_w, dim_l, alpha, loc_x, loc_y, loc_z, rotation_y for ddd.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from centernet.classes import category_ids_for
from centernet.io.writers.atomic import atomic_file
from centernet.io.writers.records import FrameRecord

BASE_COLUMNS = ("frame", "time_ms", "track_id", "class_id", "class_name", "score", "x1", "y1", "x2", "y2")
DDD_COLUMNS = ("depth", "dim_h", "dim_w", "dim_l", "alpha", "loc_x", "loc_y", "loc_z", "rotation_y")
_INT_COLUMNS = ("frame", "track_id", "class_id")


def csv_columns(keypoint_names=(), ddd: bool = False) -> list[str]:
    cols = list(BASE_COLUMNS)
    for name in keypoint_names or ():
        cols += [f"{name}_x", f"{name}_y", f"{name}_score"]
    if ddd:
        cols += DDD_COLUMNS
    return cols


def csv_rows(record: FrameRecord, class_names, tracking: bool = False, keypoint_names=(),
             ddd: bool = False) -> list[list]:
    cat_ids = category_ids_for(class_names)
    d = record.dets.numpy()
    rows = []
    for i in range(len(record.dets)):
        label = int(d["labels"][i])
        track = (int(d["track_ids"][i]) if "track_ids" in d else -1) if tracking else ""
        row = [record.index, round(record.time_ms, 3), track, int(cat_ids[label]), class_names[label],
               round(float(d["scores"][i]), 6)] + [round(float(v), 3) for v in d["boxes"][i]]
        if keypoint_names:
            scores = d["keypoint_scores"][i] if "keypoint_scores" in d else [1.0] * len(keypoint_names)
            for (x, y), s in zip(d["keypoints"][i], scores):
                row += [round(float(x), 3), round(float(y), 3), round(float(s), 4)]
        if ddd:
            row += [round(float(d["depth"][i]), 4)] + [round(float(v), 4) for v in d["dims"][i]]
            row += [round(float(d["alpha"][i]), 4)] + [round(float(v), 4) for v in d["location"][i]]
            row += [round(float(d["rotation_y"][i]), 4)]
        rows.append(row)
    return rows


def write_csv(path: Path, records: Iterable[FrameRecord], class_names, tracking: bool = False, keypoint_names=(),
              ddd: bool = False) -> int:
    """Write the CSV atomically; returns the number of detection rows."""
    count = 0
    with atomic_file(path, newline="") as f:
        out = csv.writer(f)
        out.writerow(csv_columns(keypoint_names, ddd))
        for record in records:
            for row in csv_rows(record, class_names, tracking, keypoint_names, ddd):
                out.writerow(row)
                count += 1
    return count


def read_csv(path: Path) -> list[dict]:
    """The rows back as dicts, numbers typed (frame/track_id/class_id int, track_id None when empty)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key == "class_name":
                continue
            if key in _INT_COLUMNS:
                row[key] = int(value) if value != "" else None
            else:
                row[key] = float(value)
    return rows

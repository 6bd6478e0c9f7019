"""Saved detections read back per frame, for re-tracking them without the detector.

Formats, by extension: `.txt` MOTChallenge detections (`frame,id,x,y,w,h,score,...`, frames from 1, the
id column ignored; an optional 8th column > 0 is taken as the class id, else class 0); `.json` COCO
results (`image_id` as the frame number, `category_id`, `bbox` xywh, `score`), as `annotate --format coco`
and `detect` write them; `.csv` our annotate CSV (`frame` 0-based, `class_id`, `score`, `x1..y2`).
Every frame from 1 to the last one with a detection is returned, empty ones included, because a tracker
must see the frames where nothing was detected too. Rows with a NaN or infinite value, or a width or height
not above 0, cannot be tracked: they are skipped, and `warn` is told how many and where the first one is.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from centernet.detections import Detections
from centernet.errors import InputError
from centernet.io.mot_files import detection_columns, read_mot_numbered

FORMATS = {".txt": "MOTChallenge detections", ".json": "COCO results", ".csv": "annotate CSV"}


def read_detection_file(path: Path, warn: Callable[[str], None] = lambda _: None) -> list[tuple[int, Detections]]:
    """(frame number from 1, that frame's detections sorted by score) for every frame up to the last;
    `warn(line)` once when rows had to be skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such detections file: give a MOTChallenge .txt, COCO results .json or .csv")
    readers = {".txt": _mot_rows, ".json": _coco_rows, ".csv": _csv_rows}
    if path.suffix.lower() not in readers:
        raise InputError(f"{path}: unknown detections format: use one of {', '.join(FORMATS)} "
                         f"({', '.join(FORMATS.values())})")
    rows, where = readers[path.suffix.lower()](path)   # (N, 7): frame, x1, y1, x2, y2, score, class; row -> place
    return frames_of(drop_untrackable(rows, where, path, warn))


def drop_untrackable(rows: np.ndarray, where: list[str], path: Path, warn: Callable[[str], None]) -> np.ndarray:
    """Rows without a NaN or infinite value and with a positive width and height; the rest reported once."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(rows).all(axis=1) | ~(rows[:, 3] > rows[:, 1]) | ~(rows[:, 4] > rows[:, 2])
    if bad.any():
        warn(f"warning: {path}: skipped {int(bad.sum())} of {len(rows)} rows with a NaN or a width or height not "
             f"above 0 (the first at {where[int(np.flatnonzero(bad)[0])]}); tracked the rest")
    return rows[~bad]


def frames_of(rows: np.ndarray) -> list[tuple[int, Detections]]:
    """Group (frame, x1, y1, x2, y2, score, class) rows by frame, every frame from 1 to the last."""
    last = int(rows[:, 0].max()) if len(rows) else 0
    out = []
    order = np.lexsort((-rows[:, 5], rows[:, 0])) if len(rows) else np.zeros(0, dtype=np.int64)
    rows = rows[order]
    starts = np.searchsorted(rows[:, 0], np.arange(1, last + 2))
    for frame in range(1, last + 1):
        r = rows[starts[frame - 1]:starts[frame]]
        out.append((frame, Detections(torch.tensor(r[:, 1:5], dtype=torch.float32).reshape(-1, 4),
                                      torch.tensor(r[:, 5], dtype=torch.float32),
                                      torch.tensor(r[:, 6], dtype=torch.int64))))
    return out


def _mot_rows(path: Path) -> tuple[np.ndarray, list[str]]:
    rows, numbers = read_mot_numbered(path, min_columns=7, row="detection row")
    return detection_columns(rows), [f"line {n}" for n in numbers]


def _coco_rows(path: Path) -> tuple[np.ndarray, list[str]]:
    try:
        results = json.loads(path.read_text())
        if not isinstance(results, list):
            raise TypeError("the file holds no list")
        rows = [[r["image_id"], r["bbox"][0], r["bbox"][1], r["bbox"][0] + r["bbox"][2],
                 r["bbox"][1] + r["bbox"][3], r.get("score", 1.0), r["category_id"]] for r in results]
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise InputError(f"{path}: not a COCO results list (image_id, category_id, bbox, score): {e}") from None
    rows = np.array(rows, dtype=np.float64).reshape(-1, 7)
    if len(rows) and rows[:, 0].min() < 1:
        raise InputError(f"{path}: COCO image ids are taken as frame numbers and must start at 1")
    return rows, [f"result {i} (image_id {r[0]:g})" for i, r in enumerate(rows)]


def _csv_rows(path: Path) -> tuple[np.ndarray, list[str]]:
    try:
        with open(path, newline="") as f:
            rows = [[int(r["frame"]) + 1, float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"]),
                     float(r["score"]), int(r["class_id"])] for r in csv.DictReader(f)]
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not an annotate CSV (frame, class_id, score, x1, y1, x2, y2): {e}") from None
    return np.array(rows, dtype=np.float64).reshape(-1, 7), [f"line {n + 2}" for n in range(len(rows))]

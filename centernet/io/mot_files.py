"""MOTChallenge text files read back, in one place: `frame,id,x,y,w,h,score,...`, one box a line.

Detections (the tracker's input, `id` -1), tracks and ground truth (`score` is the 0/1 "consider" flag,
then class and visibility) share the layout; they differ only in the columns a reader needs. Frames start
at 1 (MOTChallenge's own convention, kept by `writers/mot.py`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from centernet.errors import InputError

COLUMNS = 10                       # frame, id, x, y, w, h, score, then three dataset-specific columns


def read_mot(path: Path, min_columns: int = 6, row: str = "row") -> np.ndarray:
    """(N, 10) float64 rows of a MOTChallenge file, columns a line leaves out NaN (an empty file: (0, 10)).

    A line with fewer than `min_columns` numbers, or a frame below 1, raises one InputError naming the
    file, the line and the expected layout (`row` names what was expected, e.g. "detection row").
    """
    return read_mot_numbered(path, min_columns, row)[0]


def read_mot_numbered(path: Path, min_columns: int = 6, row: str = "row") -> tuple[np.ndarray, list[int]]:
    """`read_mot`'s rows and the file's line number of each (blank lines are skipped), for warnings that
    name a line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such MOTChallenge file")
    layout = ",".join(["frame>=1", "id", "x", "y", "w", "h", "score"][:max(min_columns, 6)])
    rows, numbers = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            v = [float(x) for x in line.replace(" ", "").split(",")]
            if len(v) < min_columns or v[0] < 1:
                raise ValueError
        except ValueError:
            raise InputError(f"{path}:{n}: not a MOTChallenge {row} ({layout},...): {line[:60]!r}") from None
        rows.append(v[:COLUMNS] + [np.nan] * (COLUMNS - len(v)))   # extra columns (3D MOT) dropped
        numbers.append(n)
    return np.array(rows, dtype=np.float64).reshape(-1, COLUMNS), numbers


def read_mot_tracks(path: Path, ground_truth: bool = False) -> np.ndarray:
    """(N, 6) frame, id, x1, y1, x2, y2 from a tracks or ground-truth file (ground truth: conf-0 rows dropped)."""
    v = read_mot(path)
    if ground_truth:
        v = v[~(v[:, 6] == 0)]                       # conf 0 marks an ignore region; a missing column counts
    return np.column_stack([v[:, :4], v[:, 2] + v[:, 4], v[:, 3] + v[:, 5]]).reshape(-1, 6)


def read_mot_detections(path: Path) -> np.ndarray:
    """(N, 7) frame, x1, y1, x2, y2, score, class from a detections file (the id column ignored; an 8th
    column > 0 is taken as the class id, else class 0)."""
    return detection_columns(read_mot(path, min_columns=7, row="detection row"))


def detection_columns(v: np.ndarray) -> np.ndarray:
    """(N, 10) MOTChallenge rows -> (N, 7) frame, x1, y1, x2, y2, score, class."""
    label = np.where(v[:, 7] > 0, v[:, 7], 0).astype(np.int64)   # NaN > 0 is False: class 0
    return np.column_stack([v[:, 0], v[:, 2], v[:, 3], v[:, 2] + v[:, 4], v[:, 3] + v[:, 5], v[:, 6],
                            label]).astype(np.float64).reshape(-1, 7)

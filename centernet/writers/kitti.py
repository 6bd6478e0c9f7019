"""KITTI object label files: one line per object, the format of `label_2/*.txt`.

`type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]`. Detections are
written as the original writes its results (truncated 0.0, occluded 0, two decimals, score last).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..detections import Detections
from .atomic import atomic_file


@dataclass
class KittiObject:
    """One line of a KITTI label file."""

    type: str
    truncated: float
    occluded: int
    alpha: float
    box: tuple[float, float, float, float]        # x1, y1, x2, y2 (image pixels)
    dims: tuple[float, float, float]               # h, w, l (metres)
    location: tuple[float, float, float]           # x, y, z of the bottom centre (camera frame)
    rotation_y: float
    score: float | None = None


def kitti_lines(dets: Detections, class_names) -> list[str]:
    """Label lines for ddd detections in image pixels with their 3D fields."""
    d = dets.numpy()
    lines = []
    for i in range(len(dets)):
        label = int(d["labels"][i])
        name = class_names[label] if 0 <= label < len(class_names) else str(label)
        values = [d["alpha"][i], *d["boxes"][i], *d["dims"][i], *d["location"][i], d["rotation_y"][i], d["scores"][i]]
        lines.append(f"{name.replace(' ', '_')} 0.0 0" + "".join(f" {float(v):.2f}" for v in values))
    return lines


def write_kitti_labels(path: Path, dets: Detections, class_names) -> None:
    """One KITTI label file (atomically); an image without detections gets an empty file."""
    lines = kitti_lines(dets, class_names)
    with atomic_file(Path(path)) as f:
        f.write("".join(line + "\n" for line in lines))


def read_kitti_labels(path: Path) -> list[KittiObject]:
    """Parse a KITTI label file (ground truth, or results with a trailing score)."""
    objects = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 15:
            continue
        v = [float(x) for x in parts[1:]]
        objects.append(KittiObject(parts[0], v[0], int(v[1]), v[2], tuple(v[3:7]), tuple(v[7:10]), tuple(v[10:13]),
                                   v[13], v[14] if len(v) > 14 else None))
    return objects


def objects_to_arrays(objects: list[KittiObject]) -> dict[str, np.ndarray]:
    """Columns of a list of label objects as arrays (boxes, dims, location, rotation_y, alpha)."""
    return {"boxes": np.array([o.box for o in objects], dtype=np.float64).reshape(-1, 4),
            "dims": np.array([o.dims for o in objects], dtype=np.float64).reshape(-1, 3),
            "location": np.array([o.location for o in objects], dtype=np.float64).reshape(-1, 3),
            "rotation_y": np.array([o.rotation_y for o in objects], dtype=np.float64),
            "alpha": np.array([o.alpha for o in objects], dtype=np.float64)}

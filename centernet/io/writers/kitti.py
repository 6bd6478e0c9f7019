"""KITTI object label files: one line per object, the format of `label_2/*.txt`.

`type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]`: ground truth has 15
fields, results add the score. The one record and reader for the dataset loader, evaluation and
`detect --kitti`. Detections are written as the original writes its results (truncated 0.0,
occluded 0, two decimals, score last).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from centernet.detections import Detections
from centernet.errors import InputError
from centernet.io.writers.atomic import atomic_file

# what the devkit writes for a field that a detection does not have
NO_ALPHA, NO_DIMS, NO_LOCATION, NO_ROTATION = -10.0, (-1.0, -1.0, -1.0), (-1000.0, -1000.0, -1000.0), -10.0


@dataclass
class KittiObject:
    """One line of a KITTI label (or result) file."""

    type: str
    truncated: float
    occluded: int
    alpha: float
    box: tuple[float, float, float, float]        # x1, y1, x2, y2 (image pixels)
    dims: tuple[float, float, float]               # h, w, l (metres)
    location: tuple[float, float, float]           # x, y, z of the bottom centre (camera frame)
    rotation_y: float
    score: float | None = None                     # None for ground truth: its lines have no score

    @staticmethod
    def parse(line: str) -> "KittiObject":
        f = line.split()
        if len(f) not in (15, 16):
            raise ValueError(f"a KITTI label line has 15 fields (16 with a score), got {len(f)}")
        try:
            v = [float(x) for x in f[1:]]
        except ValueError:
            raise ValueError(f"the 14 or 15 fields after the type must be numbers, got {' '.join(f[1:])!r}") from None
        return KittiObject(f[0], v[0], int(v[1]), v[2], tuple(v[3:7]), tuple(v[7:10]), tuple(v[10:13]), v[13],
                           v[14] if len(v) > 14 else None)

    def line(self) -> str:
        values = [self.alpha, *self.box, *self.dims, *self.location, self.rotation_y]
        if self.score is not None:
            values.append(self.score)
        # truncated in its shortest form: results keep the original's "0.0", labels their two decimals
        return (f"{self.type.replace(' ', '_')} {float(round(self.truncated, 2))} {int(self.occluded)}"
                + "".join(f" {float(v):.2f}" for v in values))


def kitti_objects(dets: Detections, class_names) -> list[KittiObject]:
    """Detections as KITTI result objects; 3D fields the Detections lack get the devkit's blanks."""
    d = dets.numpy()
    out = []
    for i in range(len(dets)):
        label = int(d["labels"][i])
        name = class_names[label] if 0 <= label < len(class_names) else str(label)
        out.append(KittiObject(
            name, 0.0, 0, float(d["alpha"][i]) if "alpha" in d else NO_ALPHA,
            tuple(float(v) for v in d["boxes"][i]),
            tuple(float(v) for v in d["dims"][i]) if "dims" in d else NO_DIMS,
            tuple(float(v) for v in d["location"][i]) if "location" in d else NO_LOCATION,
            float(d["rotation_y"][i]) if "rotation_y" in d else NO_ROTATION, float(d["scores"][i])))
    return out


def kitti_lines(dets: Detections, class_names) -> list[str]:
    """Label lines for detections in image pixels (ddd detections carry the 3D fields)."""
    return [o.line() for o in kitti_objects(dets, class_names)]


def write_kitti_labels(path: Path, dets: Detections, class_names) -> None:
    """One KITTI label file (atomically); an image without detections gets an empty file."""
    lines = kitti_lines(dets, class_names)
    with atomic_file(Path(path)) as f:
        f.write("".join(line + "\n" for line in lines))


def read_kitti_labels(path: Path) -> list[KittiObject]:
    """Parse a KITTI label file (ground truth, or results with a trailing score); blank lines are skipped.

    A malformed line is an error naming the file and line rather than an object silently lost,
    which would skew training targets and evaluation alike.
    """
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file: expected KITTI label lines") from None
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            objects.append(KittiObject.parse(line))
        except ValueError as e:
            raise InputError(f"bad KITTI label line {path}:{number}: {e}; fix or remove that line") from None
    return objects

"""KITTI object detection (`label_2` + `calib` + `image_2`) for the ddd task.

Classes follow `classes.KITTI_CLASSES`. As the original: Van and Truck are "don't care" for Car,
Person_sitting for Pedestrian, DontCare regions for every class; Tram and Misc are dropped. Depth
is the label's location z; dims are (h, w, l) metres; calib is the `P2` camera matrix. Label lines
are read by `writers.kitti`, the one KITTI label format of the package.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from centernet.classes import KITTI_CLASSES
from centernet.errors import InputError
from centernet.io.writers.kitti import read_kitti_labels
from centernet.data.samples import DetectionSet, Sample

IGNORED_AS = {"Van": ("Car",), "Truck": ("Car",), "Person_sitting": ("Pedestrian",)}
DROPPED = ("Tram", "Misc")


def read_calib(path: Path) -> np.ndarray:
    """The P2 (left colour camera) 3x4 projection matrix of a KITTI calib file."""
    for line in Path(path).read_text().splitlines():
        if line.startswith("P2:"):
            return np.array([float(x) for x in line.split()[1:13]], dtype=np.float32).reshape(3, 4)
    raise InputError(f"{path} has no P2 line: not a KITTI calib file")


def find_kitti_root(folder: Path) -> Path | None:
    """The folder holding label_2/ and image_2/ (KITTI's `training/`), or None."""
    for cand in (folder, folder / "training"):
        if (cand / "label_2").is_dir() and (cand / "image_2").is_dir():
            return cand
    return None


def load_kitti(folder: str | Path, class_names: tuple = KITTI_CLASSES) -> DetectionSet:
    root = find_kitti_root(Path(folder))
    if root is None:
        raise InputError(f"{folder} is not a KITTI folder (expected label_2/ and image_2/, maybe under training/)")
    index = {n: i for i, n in enumerate(class_names)}
    samples = []
    for label_file in sorted((root / "label_2").glob("*.txt")):
        stem = label_file.stem
        image = next((root / "image_2" / f"{stem}{ext}" for ext in (".png", ".jpg")
                      if (root / "image_2" / f"{stem}{ext}").exists()), None)
        if image is None:
            raise InputError(f"no image for {label_file} in {root / 'image_2'}")
        calib_file = root / "calib" / f"{stem}.txt"
        calib = read_calib(calib_file) if calib_file.exists() else None
        objects = read_kitti_labels(label_file)
        keep = [o for o in objects if o.type in index]
        ignore = [o for o in objects if o.type == "DontCare" or o.type in IGNORED_AS]
        ignore_classes = [list(range(len(class_names))) if o.type == "DontCare"
                          else [index[n] for n in IGNORED_AS[o.type] if n in index] for o in ignore]
        samples.append(Sample(
            image_id=int(stem) if stem.isdigit() else len(samples), file_name=image.name,
            boxes=np.array([o.box for o in keep], dtype=np.float32).reshape(-1, 4),
            labels=np.array([index[o.type] for o in keep], dtype=np.int64), path=image,
            alpha=np.array([o.alpha for o in keep], dtype=np.float32),
            depth=np.array([o.location[2] for o in keep], dtype=np.float32),
            dims=np.array([o.dims for o in keep], dtype=np.float32).reshape(-1, 3), calib=calib,
            ignore_boxes=np.array([o.box for o in ignore], dtype=np.float32).reshape(-1, 4),
            ignore_classes=ignore_classes, meta={"kitti": objects}))
    if not samples:
        raise InputError(f"no label files in {root / 'label_2'}")
    return DetectionSet("kitti", "ddd", samples, tuple(class_names), tuple(range(1, len(class_names) + 1)))

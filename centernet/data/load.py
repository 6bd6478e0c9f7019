"""What a user types after `--data` (`synthetic[:N]`, a KITTI folder, a COCO folder or file) -> a DetectionSet."""
from __future__ import annotations

from pathlib import Path

from centernet.data.coco import load_coco
from centernet.data.kitti import find_kitti_root, load_kitti
from centernet.data.samples import DetectionSet
from centernet.data.synthetic import make_synthetic
from centernet.errors import ConfigError, InputError


def load_dataset(spec: "str | Path | DetectionSet", task: str, split: str = "train") -> DetectionSet:
    """What follows `--data`: `synthetic[:N]`, a KITTI folder, or a COCO folder / annotation file.

    A DetectionSet built in code is passed through (its task must match).
    """
    if isinstance(spec, DetectionSet):
        if spec.task != task:
            raise ConfigError(f"the data is a {spec.task} set, not {task}")
        return spec
    text = str(spec)
    if text == "synthetic" or text.startswith("synthetic:"):
        count = int(text.split(":", 1)[1]) if ":" in text else 64
        return make_synthetic(count, seed=0 if split == "train" else 1)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"--data {path} does not exist: give a COCO folder or annotation .json, a KITTI "
                         f"folder, or 'synthetic'")
    if path.is_dir() and find_kitti_root(path) is not None:
        if task != "ddd":
            raise ConfigError(f"{path} is a KITTI folder: train it with --task ddd")
        return load_kitti(path)
    if task == "ddd":
        raise ConfigError(f"--task ddd needs a KITTI folder (training/label_2, calib, image_2); {path} is not one")
    return load_coco(path, task, split)

"""One annotated image (`Sample`) and a set of them with its classes (`DetectionSet`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, InputError


@dataclass
class Sample:
    """An image and its objects in image pixels.

    boxes (N, 4) xyxy float32; labels (N,) 0-based class indices. Optional per task: keypoints
    (N, J, 3) x, y, visibility; alpha (N,), depth (N,), dims (N, 3) as (h, w, l) metres and calib
    (3, 4) for ddd. ignore_boxes (K, 4) with ignore_classes (K lists of class indices) are regions
    neither positive nor negative (KITTI's DontCare, Van for Car...). `meta` keeps source-specific
    ground truth (e.g. KITTI's truncation and occlusion, for its evaluation).
    """

    image_id: int
    file_name: str
    boxes: np.ndarray
    labels: np.ndarray
    path: Path | None = None
    image: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    alpha: np.ndarray | None = None
    depth: np.ndarray | None = None
    dims: np.ndarray | None = None
    calib: np.ndarray | None = None
    ignore_boxes: np.ndarray | None = None
    ignore_classes: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def load_image(self) -> np.ndarray:
        """The BGR uint8 image (a copy when held in memory)."""
        if self.image is not None:
            return self.image.copy()
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read image {self.path}: the file is missing or not an image")
        return image

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass
class DetectionSet:
    """Samples of one task with their class names.

    category_ids[i] is the dataset's id of class i (COCO's real ids, a custom file's own ids, 1..N
    otherwise); `coco_gt` is the COCO-format ground truth used for evaluation (None for KITTI).
    """

    name: str
    task: str
    samples: list[Sample]
    class_names: tuple
    category_ids: tuple
    coco_gt: dict | None = None
    num_joints: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, count: int | None) -> "DetectionSet":
        """The first `count` samples (all when None), ground truth restricted to them."""
        if count is None or count >= len(self.samples):
            return self
        samples = self.samples[:count]
        gt = None
        if self.coco_gt is not None:
            ids = {s.image_id for s in samples}
            gt = {**self.coco_gt, "images": [i for i in self.coco_gt["images"] if i["id"] in ids],
                  "annotations": [a for a in self.coco_gt["annotations"] if a["image_id"] in ids]}
        return DetectionSet(self.name, self.task, samples, self.class_names, self.category_ids, gt, self.num_joints)


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
        from .synthetic import make_synthetic
        count = int(text.split(":", 1)[1]) if ":" in text else 64
        return make_synthetic(count, seed=0 if split == "train" else 1)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"--data {path} does not exist: give a COCO folder or annotation .json, a KITTI "
                         f"folder, or 'synthetic'")
    from .kitti import find_kitti_root
    if path.is_dir() and find_kitti_root(path) is not None:
        if task != "ddd":
            raise ConfigError(f"{path} is a KITTI folder: train it with --task ddd")
        from .kitti import load_kitti
        return load_kitti(path)
    if task == "ddd":
        raise ConfigError(f"--task ddd needs a KITTI folder (training/label_2, calib, image_2); {path} is not one")
    from .coco import load_coco
    return load_coco(path, task, split)

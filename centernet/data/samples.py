"""One annotated image (`Sample`) and a set of them with its classes (`DetectionSet`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from centernet.errors import ConfigError, InputError


def check_max_images(count: int | None, flag: str = "--max-images") -> None:
    """The one rule for --max-images (eval, train's evaluation, explore): None for all, else at least 1
    (0 would evaluate nothing and report AP 0; a negative count would drop images as a Python slice does)."""
    if count is not None and count < 1:
        raise ConfigError(f"{flag} must be at least 1 (got {count}): leave it out to use every image")


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
        check_max_images(count)
        if count is None or count >= len(self.samples):
            return self
        samples = self.samples[:count]
        gt = None
        if self.coco_gt is not None:
            ids = {s.image_id for s in samples}
            gt = {**self.coco_gt, "images": [i for i in self.coco_gt["images"] if i["id"] in ids],
                  "annotations": [a for a in self.coco_gt["annotations"] if a["image_id"] in ids]}
        return DetectionSet(self.name, self.task, samples, self.class_names, self.category_ids, gt, self.num_joints)

"""Coloured shapes on a plain background, with boxes that are exact by construction.

Every shape is drawn through a mask and its box is the mask's pixel extent ([x_min, x_max + 1)),
so the ground truth cannot disagree with the pixels. For tests and quick demos:
`main.py train --data synthetic:64`.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from centernet.data.coco import to_coco_dict
from centernet.data.samples import DetectionSet, Sample

SHAPES = ("rectangle", "ellipse", "triangle")


def _shape_mask(rng: np.random.Generator, kind: str, size: tuple[int, int], box: tuple) -> np.ndarray:
    h, w = size
    x1, y1, x2, y2 = box
    mask = np.zeros((h, w), dtype=np.uint8)
    if kind == "rectangle":
        mask[y1:y2, x1:x2] = 1
    elif kind == "ellipse":
        cv2.ellipse(mask, ((x1 + x2) // 2, (y1 + y2) // 2), ((x2 - x1) // 2, (y2 - y1) // 2), 0, 0, 360, 1, -1)
    else:
        apex = int(rng.integers(x1, x2))
        pts = np.array([[apex, y1], [x1, y2 - 1], [x2 - 1, y2 - 1]], dtype=np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def make_image(rng: np.random.Generator, size: tuple[int, int] = (256, 256), max_objects: int = 3,
               min_size: int = 48, max_size: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One BGR image with 1..max_objects non-overlapping shapes: (image, boxes (N, 4), labels (N,))."""
    h, w = size
    image = np.empty((h, w, 3), dtype=np.uint8)
    image[:] = rng.integers(40, 110, size=3)
    noise = rng.normal(0, 6, size=(h, w, 1))
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    boxes, labels, placed = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            bw, bh = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
            x1, y1 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
            cand = (x1, y1, x1 + bw, y1 + bh)
            if all(_iou(cand, p) < 0.05 for p in placed):
                break
        else:
            continue
        label = int(rng.integers(len(SHAPES)))
        mask = _shape_mask(rng, SHAPES[label], (h, w), cand)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        colour = rng.integers(150, 256, size=3)
        colour[rng.integers(3)] = rng.integers(0, 80)  # saturated, far from the grey background
        image[mask.astype(bool)] = colour
        placed.append(cand)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        labels.append(label)
    return image, np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(labels, dtype=np.int64)


def make_synthetic(count: int = 64, size: tuple[int, int] = (256, 256), max_objects: int = 3, seed: int = 0,
                   min_size: int = 48, max_size: int = 128) -> DetectionSet:
    """`count` in-memory images of shapes, with COCO ground truth for evaluation."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        image, boxes, labels = make_image(rng, size, max_objects, min_size, max_size)
        samples.append(Sample(i + 1, f"synthetic_{i + 1:05d}.png", boxes, labels, image=image))
    ids = tuple(range(1, len(SHAPES) + 1))
    return DetectionSet("synthetic", "ctdet", samples, SHAPES, ids, to_coco_dict(samples, SHAPES, ids))


def write_coco_folder(dataset: DetectionSet, folder: str | Path) -> Path:
    """Write in-memory samples as a COCO folder (images/, annotations/instances.json); returns the json."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    for s in dataset.samples:
        cv2.imwrite(str(folder / "images" / s.file_name), s.load_image())
    ann = folder / "annotations" / "instances.json"
    ann.write_text(json.dumps(to_coco_dict(dataset.samples, dataset.class_names, dataset.category_ids)))
    return ann

"""A DetectionSet as network inputs and targets: the original's affine crop, augmentation, targets.

Index `epoch * len + i` addresses sample i in a given epoch (the sampler produces those), and the
sample's random numbers come from (seed, epoch, i): augmentation is reproducible whatever the
number of workers, and a resumed run sees exactly the data it would have seen.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from centernet.classes import COCO_FLIP_PAIRS
from centernet.data.targets import MAX_OBJECTS, ctdet_targets, ddd_targets, multi_pose_targets
from centernet.geometry.transforms import PreprocessSpec, affine_transform_matrix, apply_affine
from centernet.data.augment import (AugmentConfig, color_augment, ddd_center_scale, flip_boxes, flip_keypoints,
                      random_center_scale)
from centernet.data.samples import DetectionSet


def to_output(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Image pixels -> output cells, float32 like the original's per-point affine."""
    return apply_affine(points, matrix).astype(np.float32)


class CenterNetDataset(torch.utils.data.Dataset):
    """Training samples: {"input": (3, H, W) float32, plus the task's targets (see `targets`)}."""

    def __init__(self, data: DetectionSet, input_hw: tuple[int, int], spec: PreprocessSpec,
                 augment: AugmentConfig = AugmentConfig(), seed: int = 317, down_ratio: int = 4,
                 max_objects: int = MAX_OBJECTS, flip_pairs=COCO_FLIP_PAIRS):
        self.data = data
        self.task = data.task
        self.input_hw = tuple(input_hw)
        self.output_hw = (self.input_hw[0] // down_ratio, self.input_hw[1] // down_ratio)
        self.spec = spec
        self.augment = augment
        self.seed = seed
        self.max_objects = max_objects
        self.flip_pairs = flip_pairs
        self.num_classes = len(data.class_names)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict:
        epoch, i = divmod(int(index), len(self.data))
        rng = np.random.default_rng([self.seed, epoch, i])
        return self.build(i, rng)

    def build(self, i: int, rng: np.random.Generator) -> dict:
        sample = self.data.samples[i]
        image = sample.load_image()
        h, w = image.shape[:2]
        inp_h, inp_w = self.input_hw
        out_h, out_w = self.output_hw
        aug = self.augment
        center = np.array([w / 2.0, h / 2.0], dtype=np.float32)
        boxes = sample.boxes.copy()
        keypoints = None if sample.keypoints is None else sample.keypoints.copy()
        geometry_augmented = False
        if self.task == "ddd":
            scale = np.array([w, h], dtype=np.float32)
            if aug.enabled and rng.random() < aug.ddd_prob:
                center, scale = ddd_center_scale(rng, (h, w), center, scale, aug)
                geometry_augmented = True
        else:
            scale = float(max(h, w))
            if aug.enabled:
                center, scale = random_center_scale(rng, (h, w), center, scale, aug)
                if rng.random() < aug.flip:
                    image = image[:, ::-1]
                    center[0] = w - center[0] - 1
                    boxes = flip_boxes(boxes, w)
                    if keypoints is not None:
                        keypoints = flip_keypoints(keypoints, w, self.flip_pairs)
        trans_input = affine_transform_matrix(center, scale, (inp_w, inp_h))
        warped = cv2.warpAffine(np.ascontiguousarray(image), trans_input, (inp_w, inp_h), flags=cv2.INTER_LINEAR)
        pixels = warped.astype(np.float32) * np.float32(self.spec.pixel_scale)
        if aug.enabled and aug.color and self.task != "ddd":
            color_augment(rng, pixels)
        if self.spec.channel_order == "rgb":
            pixels = pixels[..., ::-1]
        mean = np.asarray(self.spec.mean, dtype=np.float32)
        std = np.asarray(self.spec.std, dtype=np.float32)
        inp = ((pixels - mean) / std).transpose(2, 0, 1)

        trans_output = affine_transform_matrix(center, scale, (out_w, out_h))
        out_boxes = to_output(boxes.reshape(-1, 2, 2), trans_output).reshape(-1, 4)
        out_boxes[:, [0, 2]] = np.clip(out_boxes[:, [0, 2]], 0, out_w - 1)
        out_boxes[:, [1, 3]] = np.clip(out_boxes[:, [1, 3]], 0, out_h - 1)
        if self.task == "ctdet":
            targets = ctdet_targets(out_boxes, sample.labels, self.num_classes, self.output_hw, self.max_objects)
        elif self.task == "multi_pose":
            kps = keypoints.copy()
            kps[..., :2] = to_output(kps[..., :2], trans_output)
            kps[kps[..., 2] <= 0] = 0
            targets = multi_pose_targets(out_boxes, kps, self.output_hw, self.max_objects)
        else:
            ignore = None
            if sample.ignore_boxes is not None and len(sample.ignore_boxes):
                ignore = to_output(sample.ignore_boxes.reshape(-1, 2, 2), trans_output).reshape(-1, 4)
                ignore[:, [0, 2]] = np.clip(ignore[:, [0, 2]], 0, out_w - 1)
                ignore[:, [1, 3]] = np.clip(ignore[:, [1, 3]], 0, out_h - 1)
            targets = ddd_targets(out_boxes, sample.labels, sample.alpha, sample.depth, sample.dims,
                                  self.num_classes, self.output_hw, ignore, sample.ignore_classes,
                                  self.max_objects, geometry_augmented)
        targets["input"] = np.ascontiguousarray(inp, dtype=np.float32)
        return {k: torch.from_numpy(v) for k, v in targets.items()}

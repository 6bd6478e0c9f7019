"""Detector: image -> Detections in image pixels, through pre -> net -> decode -> post.

One object serves the CLI, the GUI, annotation and benchmarks. Per-stage times (ms) are attached to
every result as `dets.timings`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointInfo, load_checkpoint
from .decode import ctdet_decode_batch
from .detections import Detections
from .errors import ConfigError
from .timing import StageTimer
from .transforms import InputTransform, PreprocessSpec, output_points_to_image, preprocess


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA GPU is available: use --device cpu or auto")
    return device


class Detector:
    """A model with its checkpoint's pre-processing and decoding rules.

    >>> det = Detector.from_checkpoint("ctdet_coco_dla_2x.pth")
    >>> dets = det(cv2.imread("photo.jpg"))
    """

    def __init__(self, model: torch.nn.Module, info: CheckpointInfo, device: str | torch.device = "auto",
                 k: int | None = None, keep_res: bool = False, input_size: tuple[int, int] | None = None):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.info = info
        self.k = int(k or info.decode.get("k", 100))
        spec = info.preprocess
        if keep_res:
            spec = replace(spec, keep_res=True)
        if input_size is not None:
            spec = spec.with_input_size(*input_size)
        self.spec: PreprocessSpec = spec
        self.timer = StageTimer(self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, arch: str | None = None, task: str | None = None,
                        device: str | torch.device = "auto", **kwargs) -> "Detector":
        """Load any checkpoint (original or ours); with no path, the shipped default model for the task."""
        if path is None:
            from .zoo import default_weights
            path = default_weights(task or "ctdet")
        model, info = load_checkpoint(path, arch=arch, task=task)
        return cls(model, info, device, **kwargs)

    @property
    def class_names(self) -> tuple:
        return self.info.class_names

    @property
    def task(self) -> str:
        return self.info.task

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    @torch.inference_mode()
    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect in several BGR images (any sizes); one forward pass when their input sizes agree."""
        self.timer.reset()
        with self.timer("pre"):
            prepared = [preprocess(img, self.spec) for img in images]
            transforms = [tf for _, tf in prepared]
            batches = _group_by_shape([x for x, _ in prepared])
        results: list[Detections | None] = [None] * len(images)
        for indices, batch in batches:
            with self.timer("net"):
                outputs = self.model(batch.to(self.device))
            with self.timer("decode"):
                decoded = self.decode(outputs)
            with self.timer("post"):
                for i, dets in zip(indices, decoded):
                    results[i] = self.to_image(dets.to("cpu"), transforms[i])
        per_image = {stage: ms / len(images) for stage, ms in self.timer.times.items()}
        for r in results:
            r.timings = dict(per_image)
        return results

    def decode(self, outputs: dict) -> list[Detections]:
        """Head outputs of a batch -> Detections in output-map cells."""
        rule = self.info.decode.get("rule", "centernet")
        if rule == "movenet":
            from .decode_movenet import movenet_decode
            return [movenet_decode(*(outputs[n][i:i + 1] for n in ("center", "box_scale", "box_offset",
                                                                     "kpt_heatmap", "kpt_regress", "kpt_offset")),
                                   k=self.k) for i in range(outputs["center"].shape[0])]
        if self.task == "ctdet":
            return ctdet_decode_batch(outputs["hm"], outputs["wh"], outputs.get("reg"), k=self.k,
                                      box_mode=self.info.decode.get("box_mode", "size"))
        raise ConfigError(f"decoding for task {self.task!r} is not available in this version")

    def to_image(self, dets: Detections, tf: InputTransform) -> Detections:
        """Output-map cells -> image pixels (boxes corner by corner, joints point by point)."""
        boxes = dets.boxes.numpy().reshape(-1, 2, 2)
        out = dets.map(lambda t: t)  # shallow copy
        out.boxes = torch.from_numpy(output_points_to_image(boxes, tf, 4).reshape(-1, 4))
        if dets.keypoints is not None:
            out.keypoints = torch.from_numpy(output_points_to_image(dets.keypoints.numpy(), tf, 4))
        return out


def _group_by_shape(tensors: list[torch.Tensor]) -> list[tuple[list[int], torch.Tensor]]:
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(i)
    return [(idx, torch.cat([tensors[i] for i in idx])) for idx in groups.values()]

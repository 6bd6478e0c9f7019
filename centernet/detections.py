"""The typed result of decoding: one `Detections` per image."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Optional

import numpy as np
import torch


@dataclass
class DecodedFields:
    """The fields a decoder produces, shared by `Detections` (one image) and `FixedDetections` (a batch)."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    keypoints: Optional[torch.Tensor] = None
    keypoint_scores: Optional[torch.Tensor] = None
    depth: Optional[torch.Tensor] = None
    dims: Optional[torch.Tensor] = None
    alpha: Optional[torch.Tensor] = None


@dataclass
class Detections(DecodedFields):
    """Detections of one image, sorted by descending score.

    boxes are xyxy in the coordinates of whatever produced them (output-map cells after decoding,
    image pixels after `Detector` post-processing). Optional fields belong to other tasks:
    keypoints (N, J, 2) and keypoint_scores (N, J) for multi_pose; depth (N,), dims (N, 3) as
    (h, w, l), alpha (N,), location (N, 3) and rotation_y (N,) for ddd; track_ids (N,) once tracked.
    """

    location: Optional[torch.Tensor] = None
    rotation_y: Optional[torch.Tensor] = None
    track_ids: Optional[torch.Tensor] = None
    timings: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def _tensor_fields(self):
        return [f.name for f in fields(self) if f.name != "timings" and getattr(self, f.name) is not None]

    def map(self, fn) -> "Detections":
        """A copy with `fn` applied to every tensor field."""
        return replace(self, **{n: fn(getattr(self, n)) for n in self._tensor_fields()})

    def to(self, device) -> "Detections":
        return self.map(lambda t: t.to(device))

    def __getitem__(self, index) -> "Detections":
        """Select rows with a slice, an index tensor or a boolean mask."""
        return self.map(lambda t: t[index])

    def numpy(self) -> dict:
        """Every present field as a numpy array, keyed by field name."""
        return {n: getattr(self, n).detach().cpu().numpy() for n in self._tensor_fields()}

    def above(self, threshold: float) -> "Detections":
        return self[self.scores >= threshold]

    def only_labels(self, labels) -> "Detections":
        """Keep the detections whose class index is in `labels` (an iterable of ints)."""
        if labels is None:
            return self
        wanted = torch.as_tensor(sorted(set(int(i) for i in labels)), dtype=self.labels.dtype)
        return self[torch.isin(self.labels, wanted.to(self.labels.device))]

    @staticmethod
    def empty(num_joints: int = 0) -> "Detections":
        det = Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))
        if num_joints:
            det.keypoints = torch.zeros(0, num_joints, 2)
            det.keypoint_scores = torch.zeros(0, num_joints)
        return det


@dataclass
class FixedDetections(DecodedFields):
    """Detections of a batch at a fixed shape, as a CUDA graph computes them: (B, K, ...) per field.

    Row k of image b is a detection when scores[b, k] > 0; zero-score rows are non-peaks, left in
    so that the shapes never depend on the data. `split` drops them on the host. Fields as in
    `Detections` (labels are the class indices).
    """

    def __len__(self) -> int:
        """The batch size."""
        return int(self.scores.shape[0])

    def tensors(self) -> dict[str, torch.Tensor]:
        """The present fields by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def map(self, fn) -> "FixedDetections":
        """A copy with `fn` applied to every present field."""
        return replace(self, **{n: fn(t) for n, t in self.tensors().items()})

    def split(self) -> list[Detections]:
        """One `Detections` per image, zero-score rows dropped (a host-side step: shapes become data-dependent)."""
        out = []
        for i in range(len(self)):
            keep = self.scores[i] > 0
            out.append(Detections(**{n: t[i][keep] for n, t in self.tensors().items()}))
        return out


def stack_numpy(dets: Detections) -> np.ndarray:
    """(N, 6) float64 array x1, y1, x2, y2, score, label: for quick comparisons and printing."""
    d = dets.numpy()
    return np.concatenate([d["boxes"], d["scores"][:, None], d["labels"][:, None]], axis=1).astype(np.float64)

"""How well the boxes shown on frames the model skipped match those frames' own detections (issue 32).

The model runs on every K-th frame, through the live pipeline's own `ModelThread.infer` (tracker, motion
velocities); the frames in between show that run's boxes, moved to their own time by the motion step or
left where they were. The truth is the Detector on every frame. Score: the mean, over the boxes shown on
skipped frames, of the best IoU with a truth box of the same class (0 when there is none).
"""
from __future__ import annotations

import threading

import numpy as np

from centernet.detections import Detections
from centernet.live.frames import LiveFrame
from centernet.live.model import ModelThread
from centernet.live.motion import moved
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState
from centernet.tracking.bytetrack import iou_matrix
from centernet.tracking.live import LiveTracker


def best_iou_by_class(shown: Detections, truth: Detections) -> list[float]:
    """Per shown box: the best IoU with a truth box of its class."""
    if len(shown) == 0:
        return []
    s, t = shown.numpy(), truth.numpy()
    if len(truth) == 0:
        return [0.0] * len(shown)
    iou = iou_matrix(s["boxes"].astype(np.float64), t["boxes"].astype(np.float64))
    return np.where(s["labels"][:, None] == t["labels"][None, :], iou, 0.0).max(axis=1).tolist()


def skipped_frame_iou(detector, frames: list[tuple[np.ndarray, float]], every: int, threshold: float = 0.3,
                      truth: list[Detections] | None = None) -> dict:
    """{"boxes", "iou_without_step", "iou_with_step"} for `frames` ((image, timestamp_ms) pairs); `truth`: the
    Detector's output on each frame when already computed (the model's runs reuse it: it is deterministic)."""
    if truth is None:
        truth = [detector(image) for image, _ in frames]
    outputs = {id(image): dets for (image, _), dets in zip(frames, truth)}   # the Detector's, computed once
    options = StreamOptions(threshold=threshold)
    state = StreamState(0, "clip", threading.Condition())
    state.tracker = LiveTracker(options.tracking)
    model = ModelThread(lambda image: outputs[id(image)], [state], options, state.cond, threading.Event())
    with_step, without, overlay = [], [], None
    for i, (image, ts) in enumerate(frames):
        if i % every == 0:
            overlay = model.infer(state, LiveFrame(image, i, ts, 0.0, 0.0))
        elif overlay is not None:
            seen = truth[i].above(threshold)
            without += best_iou_by_class(overlay.dets, seen)
            with_step += best_iou_by_class(moved(overlay.dets, overlay.velocity, ts - overlay.frame.timestamp_ms), seen)
    mean = lambda v: round(float(np.mean(v)), 4) if v else None  # noqa: E731
    return {"every": every, "boxes": len(with_step), "iou_without_step": mean(without), "iou_with_step": mean(with_step)}

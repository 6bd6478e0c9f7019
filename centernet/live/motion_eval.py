"""How well the boxes shown on frames the model skipped match those frames' own detections (issue 32).

Two ways to play a clip, one score. Offline (`skipped_frame_iou`): the model runs on every K-th frame, through
the live pipeline's own `ModelThread.infer` (tracker, motion velocities); the frames in between show that
run's boxes, moved to their own time by the motion step or left where they were. In real time (`play_scored`,
with `score_shown`): the clip goes through `centernet.live.stream` at its own rate, so the model skips
whatever frames the machine's load makes it skip; each skipped frame is scored twice, with the boxes it showed
and with the same boxes unmoved (one play: the same frames, ages and model runs for both). The truth is the
Detector on every frame. Score: the mean, over the boxes shown on skipped frames, of the best IoU with a truth
box of the same class (0 when there is none).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from itertools import takewhile
from typing import Iterable, Sequence

import numpy as np
import torch

from centernet.detections import Detections
from centernet.live.frames import LiveFrame, StreamResult
from centernet.live.model import ModelThread
from centernet.live.motion import moved
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState
from centernet.live.stream import Stream, stream
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
    return {"every": every, "boxes": len(with_step), "iou_without_step": mean(without),
            "iou_with_step": mean(with_step)}


@dataclass(frozen=True)
class ShownScore:
    """How the boxes shown on frames the model skipped match those frames' own detections."""

    frames: int                  # frames shown
    skipped: int                 # ... with older detections than their own (scored)
    boxes: int                   # boxes shown on the skipped frames
    mean_iou: float | None       # mean best IoU by class of those boxes (None: no box)
    mean_age_ms: float | None    # mean overlay age of the scored frames


def score_shown(results: Iterable[StreamResult], truth: Sequence[Detections], threshold: float = 0.3) -> ShownScore:
    """Score a played stream's results against the Detector's own output on every frame (`truth[i]`: frame i):
    per box shown on a frame the model skipped, the best IoU with that frame's own boxes of its class."""
    ious, ages, frames, skipped = [], [], 0, 0
    for r in results:
        frames += 1
        if r.inferred or r.overlay_age_ms is None or r.frame_index >= len(truth):
            continue
        skipped += 1
        ages.append(r.overlay_age_ms)
        ious += best_iou_by_class(r.detections, truth[r.frame_index].above(threshold))
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return ShownScore(frames, skipped, len(ious), mean(ious), mean(ages))


def _unmoved(shown: Stream, r: StreamResult) -> Detections | None:
    """The boxes `r` showed before the motion step moved them: the stream's newest model output, when it is
    still the one `r` was built from (moving it again gives `r`'s boxes exactly); None when the model has
    published a newer one since (that frame is then left out of both scores)."""
    with shown.cond:
        overlay = shown.states[0].overlay
    if overlay is None or overlay.velocity is None or len(overlay.dets) != len(r.detections):
        return None
    again = moved(overlay.dets, overlay.velocity, r.timestamp_ms - overlay.frame.timestamp_ms)
    return overlay.dets if torch.equal(again.boxes, r.detections.boxes) else None


@dataclass(frozen=True)
class LiveScore:
    """One real-time play, scored with the motion step and without it on the same frames."""

    with_step: ShownScore
    without_step: ShownScore
    runs: int                # model runs
    unpaired: int            # skipped frames left out: the model published again before they could be paired


def play_scored(detector, clip: str, truth: Sequence[Detections], *, max_frames: int, threshold: float = 0.3
                ) -> LiveScore:
    """`clip`'s first `max_frames` frames played in real time through `centernet.live.stream` (its threads,
    pacing and mailboxes), the step on; each skipped frame scored with the boxes it showed and with those
    boxes unmoved."""
    with_step, without, unpaired = [], [], 0
    with stream(clip, detector=detector, threshold=threshold, motion=True) as shown:
        for r in takewhile(lambda r: r.frame_index < max_frames, shown):
            r = replace(r, image=np.empty((0, 0, 3), np.uint8))    # the scoring needs the boxes only
            if r.inferred or r.overlay_age_ms is None:
                with_step.append(r)
                without.append(r)
                continue
            unmoved = _unmoved(shown, r)
            if unmoved is None:
                unpaired += 1
                continue
            with_step.append(r)
            without.append(replace(r, detections=unmoved))
        runs = shown.inferences
    return LiveScore(score_shown(with_step, truth, threshold), score_shown(without, truth, threshold), runs, unpaired)

"""How well the boxes shown on frames the model skipped match those frames' own detections (issue 32).

Two ways to play a clip, one score. Offline (`skipped_frames`, `skipped_frame_iou`): the model runs on every K-th
frame, through the live pipeline's own `ModelThread.infer` (tracker, motion velocities); the frames in between
show that run's boxes, through the motion step (`motion_step`) or left where they were. In real time (`play_scored`,
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
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from centernet.detections import Detections
from centernet.live.frames import LiveFrame, Overlay, StreamResult
from centernet.live.model import ModelThread
from centernet.live.motion import MotionStep, motion_step
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState
from centernet.live.stream import Stream, stream
from centernet.tracking.bytetrack import iou_matrix
from centernet.tracking.live import LiveTracker


def same_class_iou(a: dict, b: dict) -> np.ndarray:
    """IoU of every box of `a` with every box of `b` (numpy Detections), 0 across classes."""
    if len(a["boxes"]) == 0 or len(b["boxes"]) == 0:
        return np.zeros((len(a["boxes"]), len(b["boxes"])))
    iou = iou_matrix(a["boxes"].astype(np.float64), b["boxes"].astype(np.float64))
    return np.where(a["labels"][:, None] == b["labels"][None, :], iou, 0.0)


def best_iou_by_class(shown: Detections, truth: Detections) -> list[float]:
    """Per shown box: the best IoU with a truth box of its class."""
    if len(shown) == 0:
        return []
    if len(truth) == 0:
        return [0.0] * len(shown)
    return same_class_iou(shown.numpy(), truth.numpy()).max(axis=1).tolist()


@dataclass(frozen=True)
class SkippedFrame:
    """A frame the model skipped in an offline play."""

    index: int               # the frame's position in the clip
    overlay: Overlay         # the model's last run before it
    shown: Detections        # the boxes shown on it with the motion step
    truth: Detections        # the Detector's own output on it (every score: the scoring keeps those >= threshold)


def skipped_frames(frames: list[tuple[np.ndarray, float]], every: int, truth: Sequence[Detections],
                   threshold: float = 0.3) -> Iterator[SkippedFrame]:
    """The model on every `every`-th of `frames` ((image, timestamp_ms) pairs) through the live model thread's own
    code (`ModelThread.infer`: tracker, velocities), each frame in between shown with the motion step; `truth[i]`:
    the Detector's output on frame i (the model's runs reuse it: it is deterministic)."""
    outputs = {id(image): dets for (image, _), dets in zip(frames, truth)}
    options = StreamOptions(threshold=threshold)
    state = StreamState(0, "clip", threading.Condition())
    state.tracker = LiveTracker(options.tracking)
    model = ModelThread(lambda image: outputs[id(image)], [state], options, state.cond, threading.Event())
    overlay, step = None, MotionStep()
    for i, (image, ts) in enumerate(frames):
        if i % every == 0:
            overlay = model.infer(state, LiveFrame(image, i, ts, 0.0, 0.0))
        elif overlay is not None:
            yield SkippedFrame(i, overlay, step(overlay, image, ts), truth[i])


def skipped_frame_iou(detector, frames: list[tuple[np.ndarray, float]], every: int, threshold: float = 0.3,
                      truth: list[Detections] | None = None) -> dict:
    """{"boxes" (the last run's, shown on skipped frames), "boxes_with_step" (those the step showed: it drops
    the boxes of another picture), "iou_without_step", "iou_with_step"} for `frames` ((image, timestamp_ms)
    pairs); `truth`: the Detector's output on each frame when already computed."""
    if truth is None:
        truth = [detector(image) for image, _ in frames]
    with_step, without = [], []
    for f in skipped_frames(frames, every, truth, threshold):
        seen = f.truth.above(threshold)
        without += best_iou_by_class(f.overlay.dets, seen)
        with_step += best_iou_by_class(f.shown, seen)
    mean = lambda v: round(float(np.mean(v)), 4) if v else None  # noqa: E731
    return {"every": every, "boxes": len(without), "boxes_with_step": len(with_step),
            "iou_without_step": mean(without), "iou_with_step": mean(with_step)}


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


def _source_overlay(shown: Stream, r: StreamResult) -> Overlay | None:
    """The model output `r`'s boxes were built from: the stream's newest, when it is still that one (the
    stream's own step on it again, from this same thread, gives `r`'s boxes exactly); None when the model has
    published a newer one since (that frame is then left out of both scores)."""
    state = shown.states[0]
    with shown.cond:
        overlay = state.overlay
    if overlay is None or overlay.velocity is None or overlay.frame.index >= r.frame_index:
        return None
    again = state.motion_step(overlay, r.image, r.timestamp_ms)
    same = len(again) == len(r.detections) and torch.equal(again.boxes, r.detections.boxes)
    return overlay if same else None


@dataclass(frozen=True)
class LiveScore:
    """One real-time play, scored with the motion step and without it on the same frames."""

    with_step: ShownScore
    without_step: ShownScore
    runs: int                # model runs
    unpaired: int            # skipped frames left out: the model published again before they could be paired
    runs_iou: float | None   # the model's outputs behind the scored frames vs the truth of their frames: 1.0 when
                             # the truth is of the very frames played (a check of the pairing)
    motion_ms: float | None  # the step's mean time on a scored frame (the stream's "motion" timing)


def play_scored(detector, clip: str, truth: Sequence[Detections], *, max_frames: int, threshold: float = 0.3
                ) -> LiveScore:
    """`clip`'s first `max_frames` frames played in real time through `centernet.live.stream` (its threads,
    pacing and mailboxes), the step on; each skipped frame scored with the boxes it showed and with those
    boxes unmoved."""
    with_step, without, unpaired, sources, motion_ms = [], [], 0, {}, []
    with stream(clip, detector=detector, threshold=threshold, motion=True) as shown:
        for r in takewhile(lambda r: r.frame_index < max_frames, shown):
            source = None if r.inferred or r.overlay_age_ms is None else _source_overlay(shown, r)
            r = replace(r, image=np.empty((0, 0, 3), np.uint8))    # the scoring needs the boxes only
            if r.inferred or r.overlay_age_ms is None:
                with_step.append(r)
                without.append(r)
                continue
            if source is None:
                unpaired += 1
                continue
            sources[source.frame.index] = source.dets
            motion_ms.append(r.timings.get("motion", 0.0))
            with_step.append(r)
            without.append(replace(r, detections=source.dets))
        runs = shown.inferences
    runs_iou = [v for i, dets in sources.items() if i < len(truth)
                for v in best_iou_by_class(dets, truth[i].above(threshold))]
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return LiveScore(score_shown(with_step, truth, threshold), score_shown(without, truth, threshold), runs, unpaired,
                     mean(runs_iou), mean(motion_ms))

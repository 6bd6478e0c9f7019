"""One-Euro smoothing of tracked boxes and keypoints, so a live skeleton stops jittering.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order low-pass filter whose cut-off
rises with speed: at rest it smooths hard (cut-off `min_cutoff_hz`, little jitter), when the object moves
the cut-off grows by `beta` per unit of speed, so it follows with little lag. Speeds are measured in box
heights per second (the track's own size, as MediaPipe scales its landmark filter), so one setting suits a
person near the camera and one far from it. The filter runs on real timestamps, so a slow model (a few
frames a second) is smoothed as much per second as a fast one.

`TrackSmoother` keeps one filter state per track id; detections without an id (-1, not yet confirmed)
pass through raw. Everything here works on plain numpy arrays and is a pure function of its inputs and
the state it keeps.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from centernet.detections import Detections


@dataclass(frozen=True)
class SmoothingConfig:
    min_cutoff_hz: float = 1.5          # cut-off at rest: lower smooths more, and lags more when motion starts
    beta: float = 2.0                   # cut-off gained per box height per second of speed
    derivative_cutoff_hz: float = 1.0   # the speed estimate's own low-pass (the paper's d_cutoff)
    forget_after_s: float = 1.0         # a track unseen this long starts afresh when it comes back


@dataclass
class OneEuroState:
    value: np.ndarray                   # the last smoothed value
    raw: np.ndarray                     # the last sample as it came (speed is measured between samples)
    speed: np.ndarray                   # the last smoothed derivative (units per second)
    time: float                         # seconds


def smoothing_factor(cutoff_hz, dt: float):
    """The exponential smoothing weight of a new sample for a first-order low-pass at `cutoff_hz`."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


def one_euro_filter(value, previous, previous_raw, previous_speed, dt, scale, config: SmoothingConfig):
    """(smoothed value, smoothed speed) of a new sample; arrays broadcast, so many tracks go in one call.

    `previous` is the last smoothed value, `previous_raw` the last sample, `dt` the seconds since it, `scale`
    the object's size in the value's units (speed in sizes per second is what `beta` multiplies)."""
    a_d = smoothing_factor(config.derivative_cutoff_hz, dt)
    speed = a_d * (value - previous_raw) / dt + (1.0 - a_d) * previous_speed
    a = smoothing_factor(config.min_cutoff_hz + config.beta * np.abs(speed) / np.maximum(scale, 1e-6), dt)
    return a * value + (1.0 - a) * previous, speed


def restarts(previous_time: float, time: float, config: SmoothingConfig) -> bool:
    """Whether a filter starts afresh: a sample at the same or an earlier time, or after a long gap."""
    return not 0.0 < time - previous_time <= config.forget_after_s


def one_euro_step(state: OneEuroState | None, value: np.ndarray, time: float, scale: float,
                  config: SmoothingConfig) -> OneEuroState:
    """The filter's next state for a new sample `value` at `time` (seconds); `.value` is the smoothed sample.

    The first sample, a sample at the same or an earlier time, and one after a long gap pass through."""
    value = np.asarray(value, dtype=np.float64)
    if state is None or state.value.shape != value.shape or restarts(state.time, time, config):
        return OneEuroState(value.copy(), value.copy(), np.zeros_like(value), time)
    smoothed, speed = one_euro_filter(value, state.value, state.raw, state.speed, time - state.time, scale, config)
    return OneEuroState(smoothed, value.copy(), speed, time)


class TrackSmoother:
    """`smoothed = smoother(dets, time)` once per inferred frame, after the tracker set `dets.track_ids`.

    Each track's box and keypoints are one vector with one filter state; all tracks are filtered in one
    vectorised call (50 people cost about as much as one)."""

    def __init__(self, config: SmoothingConfig = SmoothingConfig()):
        self.config = config
        self.filters: dict[int, OneEuroState] = {}

    def reset(self) -> None:
        self.filters = {}

    def __call__(self, dets: Detections, time: float) -> Detections:
        if dets.track_ids is None or len(dets) == 0:
            self._forget(time)
            return dets
        d = dets.numpy()
        boxes = d["boxes"].astype(np.float64)
        parts = [boxes] + ([d["keypoints"].reshape(len(boxes), -1).astype(np.float64)] if "keypoints" in d else [])
        vectors = np.concatenate(parts, axis=1)
        rows = np.flatnonzero(d["track_ids"] > 0)
        track_of = {int(r): int(d["track_ids"][r]) for r in rows}
        width = vectors.shape[1]
        known = [r for r, t in track_of.items() if t in self.filters and len(self.filters[t].value) == width
                 and not restarts(self.filters[t].time, time, self.config)]
        if known:
            states = [self.filters[track_of[r]] for r in known]
            dt = time - np.array([[s.time] for s in states])
            sides = np.maximum(boxes[known, 2:] - boxes[known, :2], 1.0)
            smoothed, speed = one_euro_filter(vectors[known], np.stack([s.value for s in states]),
                                              np.stack([s.raw for s in states]), np.stack([s.speed for s in states]),
                                              dt, sides.max(axis=1, keepdims=True), self.config)
        continuing = set(known)
        for r, track in track_of.items():
            if r not in continuing:      # a new track, or one back after a gap: its first sample as it is
                self.filters[track] = OneEuroState(vectors[r].copy(), vectors[r].copy(), np.zeros(width), time)
        for k, r in enumerate(known):
            self.filters[track_of[r]] = OneEuroState(smoothed[k], vectors[r].copy(), speed[k], time)
            vectors[r] = smoothed[k]
        self._forget(time)
        smoothed_dets = replace(dets, boxes=torch.from_numpy(vectors[:, :4].copy()).to(dets.boxes.dtype))
        if "keypoints" in d:
            smoothed_dets.keypoints = torch.from_numpy(vectors[:, 4:].reshape(d["keypoints"].shape).copy()).to(
                dets.keypoints.dtype)
        return smoothed_dets

    def _forget(self, time: float) -> None:
        """Drop the filters of tracks unseen for longer than `forget_after_s` (they would restart anyway)."""
        stale = [t for t, f in self.filters.items() if time - f.time > self.config.forget_after_s]
        for track in stale:
            del self.filters[track]

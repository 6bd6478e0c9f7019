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


def one_euro_step(state: OneEuroState | None, value: np.ndarray, time: float, scale: float,
                  config: SmoothingConfig) -> OneEuroState:
    """The filter's next state for a new sample `value` at `time` (seconds); `.value` is the smoothed sample.

    `scale` (the object's size in the value's units) turns speed into sizes per second for `beta`.
    The first sample, a sample at the same or an earlier time, and one after a long gap pass through."""
    value = np.asarray(value, dtype=np.float64)
    if state is None or state.value.shape != value.shape or not 0.0 < time - state.time <= config.forget_after_s:
        return OneEuroState(value.copy(), value.copy(), np.zeros_like(value), time)
    dt = time - state.time
    raw_speed = (value - state.raw) / dt
    a_d = smoothing_factor(config.derivative_cutoff_hz, dt)
    speed = a_d * raw_speed + (1.0 - a_d) * state.speed
    cutoff = config.min_cutoff_hz + config.beta * np.abs(speed) / max(scale, 1e-6)
    a = smoothing_factor(cutoff, dt)
    return OneEuroState(a * value + (1.0 - a) * state.value, value.copy(), speed, time)


@dataclass
class TrackFilters:
    box: OneEuroState
    keypoints: OneEuroState | None


class TrackSmoother:
    """`smoothed = smoother(dets, time)` once per inferred frame, after the tracker set `dets.track_ids`."""

    def __init__(self, config: SmoothingConfig = SmoothingConfig()):
        self.config = config
        self.filters: dict[int, TrackFilters] = {}

    def reset(self) -> None:
        self.filters = {}

    def __call__(self, dets: Detections, time: float) -> Detections:
        if dets.track_ids is None or len(dets) == 0:
            self._forget(time)
            return dets
        d = dets.numpy()
        boxes = d["boxes"].astype(np.float64)
        keypoints = d["keypoints"].astype(np.float64) if "keypoints" in d else None
        for row, track in enumerate(d["track_ids"]):
            if track <= 0:
                continue
            scale = float(max(boxes[row, 3] - boxes[row, 1], boxes[row, 2] - boxes[row, 0], 1.0))
            old = self.filters.get(int(track))
            box = one_euro_step(old.box if old else None, boxes[row], time, scale, self.config)
            joints = None
            if keypoints is not None:
                joints = one_euro_step(old.keypoints if old else None, keypoints[row], time, scale, self.config)
                keypoints[row] = joints.value
            boxes[row] = box.value
            self.filters[int(track)] = TrackFilters(box, joints)
        self._forget(time)
        smoothed = replace(dets, boxes=torch.from_numpy(boxes).to(dets.boxes.dtype))
        if keypoints is not None:
            smoothed.keypoints = torch.from_numpy(keypoints).to(dets.keypoints.dtype)
        return smoothed

    def _forget(self, time: float) -> None:
        """Drop the filters of tracks unseen for longer than `forget_after_s` (they would restart anyway)."""
        stale = [t for t, f in self.filters.items() if time - f.box.time > self.config.forget_after_s]
        for track in stale:
            del self.filters[track]

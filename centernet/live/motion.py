"""The motion step: on a frame the model skipped, each tracked box moved to the frame's own time.

The model's last boxes are late by the overlay age (120-370 ms on a busy CPU: a body width for a walking
person). ByteTrack's constant-velocity Kalman filter already knows each track's velocity (per tracker
update, i.e. per model run); divided by the source time between the last two runs it is a velocity per
ms, and the box moves by it times the frame's age. Boxes of tracks with no velocity yet stay where they
were. Keypoints move with their box's centre. Pure functions of numpy arrays and Detections.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from centernet.detections import Detections
from centernet.tracking.base import detection_arrays
from centernet.tracking.kalman import xyah_to_xyxy, xyxy_to_xyah

MAX_AHEAD_MS = 1000.0   # never extrapolate further than this: a constant velocity is a guess at best


def track_velocities(tracker, dets: Detections) -> np.ndarray:
    """(N, 4): the Kalman velocity (cx, cy, aspect, h per update) of the track each of `dets` (as just fed
    to `tracker.update`) was matched to; zeros where none (a new track, or a tracker with no Kalman filter)."""
    boxes, _, labels = detection_arrays(dets)
    velocity = np.zeros((len(boxes), 4))
    frame = getattr(tracker, "frame", None)
    matched = {}
    for track in getattr(tracker, "tracks", ()):
        mean = getattr(track, "mean", None)
        if mean is not None and len(mean) == 8 and getattr(track, "last_frame", None) == frame:
            matched[(int(track.label), tuple(track.last_box.tolist()))] = mean[4:8]   # last_box: the detection itself
    for i, (box, label) in enumerate(zip(boxes, labels)):
        v = matched.get((int(label), tuple(box.tolist())))
        if v is not None:
            velocity[i] = v
    return velocity


def moved(dets: Detections, velocity_per_ms: np.ndarray, ahead_ms: float) -> Detections:
    """`dets` moved `ahead_ms` along their velocities (rows of zeros stay)."""
    ahead_ms = float(np.clip(ahead_ms, 0.0, MAX_AHEAD_MS))
    if len(dets) == 0 or ahead_ms == 0.0 or not np.any(velocity_per_ms):
        return dets
    boxes = dets.boxes.detach().cpu().numpy().astype(np.float64)
    xyah = xyxy_to_xyah(boxes) + velocity_per_ms * ahead_ms
    xyah[:, 2:4] = np.maximum(xyah[:, 2:4], 1e-3)
    new_boxes = xyah_to_xyxy(xyah)
    out = replace(dets, boxes=torch.from_numpy(new_boxes).to(dets.boxes.device, dets.boxes.dtype))
    if dets.keypoints is not None:
        shift = ((new_boxes[:, :2] + new_boxes[:, 2:]) - (boxes[:, :2] + boxes[:, 2:])) / 2.0
        out.keypoints = dets.keypoints + torch.from_numpy(shift[:, None, :]).to(dets.keypoints.device, dets.keypoints.dtype)
    return out

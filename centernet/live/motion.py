"""The motion step: on a frame the model skipped, each tracked box moved to the frame's own time.

The model's last boxes are late by the overlay age (120-370 ms on a busy CPU: a body width for a walking
person). Each box's velocity comes from its track's own observations: the displacement of its centre
between the track's last two detections over their source-time gap, low-passed (`SMOOTHING`) across
model runs. Measured on vtest.avi and the demo clip (docs/benchmarks.md, "the motion step") it beats
ByteTrack's Kalman velocity, which learns slowly (velocity noise 1/160 of the height per update), and
moving the size too, which the detector's size jitter makes a loss. The tracker only associates; no second
tracker. A box with no track, or a track seen once, stays where it was. Keypoints move with their box's
centre. When the picture itself changed since the model's frame (a cut in an edited video, a passing vehicle
filling the view) its boxes belong to another picture: none is shown until the model runs again (on the demo
clip such boxes matched that frame's own detections with a mean IoU of 0.00-0.02).
Pure functions of numpy arrays and Detections.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from centernet.detections import Detections
from centernet.live.frames import Overlay
from centernet.tracking.base import detection_arrays
from centernet.tracking.kalman import xyah_to_xyxy, xyxy_to_xyah

MAX_AHEAD_MS = 1000.0   # never extrapolate further than this: a constant velocity is a guess at best
SMOOTHING = 0.5         # weight of the newest displacement in the low-passed velocity (alpha 0.3-0.6 measure alike)
FIRST_STEP = 0.5        # a track's first displacement counts half: it carries two boxes' jitter unsmoothed
THUMBNAIL = (32, 24)    # the picture compared at this size: motion and noise average out, a new scene does not
# mean grey-level change of the thumbnail that means another picture. Measured over frames up to 12 apart in one
# shot: at most 9 (vtest.avi, static camera), 21 (a hand-held camera in a car), 19 (a street); across the demo
# clip's cuts at least 41; its gain there is flat from 25 to 40
PICTURE_CHANGE = 30.0


@dataclass(frozen=True)
class TrackMotion:
    """What the motion step remembers of one track between model runs."""

    track: object                  # the tracker's track (held, so its id() stays this track's key)
    centre: np.ndarray             # (2,) centre of its last detection
    time_ms: float                 # source time of that detection
    velocity: np.ndarray | None    # (2,) low-passed centre velocity per ms; None after one observation


def _observed_tracks(tracker, boxes: np.ndarray, labels: np.ndarray) -> list:
    """The track each box was matched to in the tracker's newest update (None: none, or a tracker without
    ByteTrack's `last_box` / `last_frame`)."""
    frame = getattr(tracker, "frame", None)
    by_box = {(int(t.label), tuple(t.last_box.tolist())): t for t in getattr(tracker, "tracks", ())
              if getattr(t, "last_frame", None) == frame and getattr(t, "last_box", None) is not None}
    return [by_box.get((int(label), tuple(box.tolist()))) for box, label in zip(boxes, labels)]


def track_velocities(tracker, dets: Detections, memory: dict[int, TrackMotion], time_ms: float
                     ) -> tuple[np.ndarray, dict[int, TrackMotion]]:
    """((N, 4) velocity per ms of (cx, cy, aspect, h) for each of `dets` (as just fed to `tracker.update`,
    at source time `time_ms`), the memory for the next run). Only the centre moves; zeros where the box has
    no track or its track was seen once. `memory` is the previous call's (start with {})."""
    boxes, _, labels = detection_arrays(dets)
    centres = xyxy_to_xyah(boxes)[:, :2] if len(boxes) else np.zeros((0, 2))
    velocity = np.zeros((len(boxes), 4))
    alive = {id(t) for t in getattr(tracker, "tracks", ())}
    new = {key: m for key, m in memory.items() if key in alive}   # tracks unseen this run keep their memory
    for i, track in enumerate(_observed_tracks(tracker, boxes, labels)):
        if track is None:
            continue
        before, v = memory.get(id(track)), None
        if before is not None and time_ms > before.time_ms:
            step = (centres[i] - before.centre) / (time_ms - before.time_ms)
            v = FIRST_STEP * step if before.velocity is None else SMOOTHING * step + (1 - SMOOTHING) * before.velocity
            velocity[i, :2] = v
        new[id(track)] = TrackMotion(track, centres[i], time_ms, v)
    return velocity, new


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


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A small grey float32 copy of a frame, for `picture_change` (about 0.1 ms whatever the frame's size: every
    s-th pixel first, still twice the thumbnail's size, then averaged down)."""
    h, w = image.shape[:2]
    s = max(1, min(h // (2 * THUMBNAIL[1]), w // (2 * THUMBNAIL[0])))
    small = cv2.resize(np.ascontiguousarray(image[::s, ::s]), THUMBNAIL, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return small.astype(np.float32)


def picture_change(before: np.ndarray, now: np.ndarray) -> float:
    """Mean absolute grey-level difference (0-255) between two frames' thumbnails."""
    return float(np.abs(thumbnail(before) - thumbnail(now)).mean())


def motion_step(overlay: Overlay, image: np.ndarray, timestamp_ms: float) -> Detections:
    """The boxes shown on a frame the model skipped (`image` at source time `timestamp_ms`): `overlay`'s moved
    to that time along their tracks; none when the picture changed too much since the model's frame."""
    if overlay.velocity is None or len(overlay.dets) == 0:
        return overlay.dets
    if picture_change(overlay.frame.image, image) > PICTURE_CHANGE:
        return overlay.dets[torch.zeros(len(overlay.dets), dtype=torch.bool)]
    return moved(overlay.dets, overlay.velocity, timestamp_ms - overlay.frame.timestamp_ms)

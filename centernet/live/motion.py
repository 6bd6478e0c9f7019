"""The motion step: on a frame the model skipped, each box moved to where its object is on that frame.

The model's last boxes are late by the overlay age (120-370 ms on a busy CPU: a body width for a walking
person). Where each box's object went is measured on the frame itself: the optical flow (pyramidal
Lucas-Kanade, OpenCV) of a 4x4 grid of points over the middle of the box, from the model's frame to this one,
both as grey copies 320 pixels long (`FrameSketch`); the box moves by the median displacement of the points
that track back to where they started. A measurement follows turns, stops and a panning camera, and needs no
track: measured on vtest.avi and the demo clip (docs/benchmarks.md, "the motion step") it gains about twice
what extrapolating the track's velocity gained at a lag of 100-200 ms, and the more the older the boxes.
Where fewer than three points agree (no texture, occlusion, a jump the pyramid cannot follow) the box moves
along its track's velocity instead: the displacement of its centre between the track's last two detections
over their source-time gap, low-passed (`SMOOTHING`) across model runs (it beat ByteTrack's Kalman velocity,
which learns slowly); a box with no track, or a track seen once, then stays where it was. The size is kept:
the detector's size jitter is as large as the true change over these gaps. Keypoints move with their box.
When the picture itself changed since the model's frame (a cut in an edited video, a passing vehicle filling
the view) its boxes belong to another picture: none is shown until the model runs again (on the demo clip such
boxes matched that frame's own detections with a mean IoU of 0.00-0.02).
Pure functions of numpy arrays and Detections, and `MotionStep`, which keeps the model frame's sketch for the
skipped frames that follow it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from centernet.detections import Detections
from centernet.live.frames import Overlay
from centernet.tracking.base import detection_arrays
from centernet.tracking.kalman import xyxy_to_xyah

MAX_AHEAD_MS = 1000.0   # never extrapolate further than this: a constant velocity is a guess at best
SMOOTHING = 0.5         # weight of the newest displacement in the low-passed velocity (alpha 0.3-0.6 measure alike)
FIRST_STEP = 0.5        # a track's first displacement counts half: it carries two boxes' jitter unsmoothed
THUMBNAIL = (32, 24)    # the picture compared at this size: motion and noise average out, a new scene does not
# mean grey-level change of the thumbnail that means another picture. Measured over frames up to 12 apart in one
# shot: at most 9 (vtest.avi, static camera), 21 (a hand-held camera in a car), 19 (a street); across the demo
# clip's cuts at least 41; its gain there is flat from 25 to 40
PICTURE_CHANGE = 30.0
# the optical flow: frames compared at this long side (people 10-30 px wide there still track; 0.3-1 ms a frame
# for 15 boxes), a grid of FLOW_GRID x FLOW_GRID points over the middle FLOW_INNER (width, height) of each box
# (mostly the object, little background), Lucas-Kanade windows of FLOW_WINDOW px on FLOW_LEVELS pyramid levels
# (about 36 px at that size: 80-110 px of a 640-768 px frame), a point kept when tracking it back lands within
# FLOW_AGREEMENT px of where it started, a box measured when FLOW_MIN_POINTS points are kept. Measured alike
# (within 0.005) at 256-400 px, grids of 3-5, windows of 9-15 and with or without the backward check
FLOW_SIDE = 320
FLOW_GRID = 4
FLOW_INNER = (0.5, 0.7)
FLOW_WINDOW = 9
FLOW_LEVELS = 3
FLOW_AGREEMENT = 1.0
FLOW_MIN_POINTS = 3


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


def shifted(dets: Detections, shift: np.ndarray) -> Detections:
    """`dets` with each box (and its keypoints) moved by its row of `shift` ((N, 2) pixels)."""
    if len(dets) == 0 or not np.any(shift):
        return dets
    boxes = dets.boxes.detach().cpu().numpy().astype(np.float64) + np.tile(shift, 2)
    out = replace(dets, boxes=torch.from_numpy(boxes).to(dets.boxes.device, dets.boxes.dtype))
    if dets.keypoints is not None:
        out.keypoints = dets.keypoints + torch.from_numpy(shift[:, None, :]).to(dets.keypoints.device,
                                                                                 dets.keypoints.dtype)
    return out


def velocity_shifts(velocity_per_ms: np.ndarray, ahead_ms: float) -> np.ndarray:
    """(N, 2) centre displacement after `ahead_ms` (clipped to 0..MAX_AHEAD_MS) along each row's velocity."""
    return np.asarray(velocity_per_ms, np.float64)[:, :2] * float(np.clip(ahead_ms, 0.0, MAX_AHEAD_MS))


def moved(dets: Detections, velocity_per_ms: np.ndarray, ahead_ms: float) -> Detections:
    """`dets` moved `ahead_ms` along their centre velocities (rows of zeros stay)."""
    return shifted(dets, velocity_shifts(velocity_per_ms, ahead_ms)) if len(dets) else dets


def _small(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` grey at `size` ((w, h)), about 0.1-0.3 ms whatever its own size: every s-th pixel first (still
    at least twice `size`), then averaged down."""
    h, w = image.shape[:2]
    s = max(1, min(h // (2 * size[1]), w // (2 * size[0])))
    small = cv2.resize(np.ascontiguousarray(image[::s, ::s]), size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A small grey float32 copy of a frame, for `picture_change`."""
    return _small(image, THUMBNAIL).astype(np.float32)


def thumbnail_change(before: np.ndarray, now: np.ndarray) -> float:
    """Mean absolute grey-level difference (0-255) between two thumbnails."""
    return float(np.abs(before - now).mean())


def picture_change(before: np.ndarray, now: np.ndarray) -> float:
    """`thumbnail_change` of two frames."""
    return thumbnail_change(thumbnail(before), thumbnail(now))


@dataclass(frozen=True)
class FrameSketch:
    """What the motion step compares of a frame: its thumbnail (is it another picture?) and a grey copy
    FLOW_SIDE pixels long (where did each box go?)."""

    thumbnail: np.ndarray
    grey: np.ndarray
    scale: float           # the grey copy's size over the frame's


def sketch(image: np.ndarray) -> FrameSketch:
    """`image`'s thumbnail and grey copy. The grey copy is resized bilinearly, not averaged: the flow measures
    alike (within 0.001 of IoU) and it costs 0.13-0.19 ms from 768x576 to 1920x1080, where an average costs
    0.9-1.6 ms."""
    h, w = image.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) if scale < 1.0 else image
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return FrameSketch(thumbnail(image), grey, size[0] / w)


def box_grids(boxes: np.ndarray) -> np.ndarray:
    """(N * FLOW_GRID**2, 2) points: each box's grid over the middle FLOW_INNER of it."""
    steps = np.linspace(-0.5, 0.5, FLOW_GRID)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    spans = (boxes[:, 2:] - boxes[:, :2]) * np.array(FLOW_INNER)
    gx, gy = np.meshgrid(steps, steps)
    offsets = np.stack([gx.ravel(), gy.ravel()], axis=1)                       # (G, 2)
    return (centres[:, None, :] + offsets[None] * spans[:, None, :]).reshape(-1, 2)


def flow_shifts(before: FrameSketch, now: FrameSketch, boxes: np.ndarray) -> np.ndarray:
    """(N, 2) displacement, in frame pixels, of the content of each of `boxes` (xyxy in `before`'s frame) from
    `before` to `now`: the median over its grid points that track there and back; NaN where fewer than
    FLOW_MIN_POINTS do."""
    out = np.full((len(boxes), 2), np.nan)
    if len(boxes) == 0 or before.grey.shape != now.grey.shape:
        return out
    start = (box_grids(np.asarray(boxes, np.float64)) * before.scale).astype(np.float32).reshape(-1, 1, 2)
    lk = dict(winSize=(FLOW_WINDOW, FLOW_WINDOW), maxLevel=FLOW_LEVELS,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    there, found, _ = cv2.calcOpticalFlowPyrLK(before.grey, now.grey, start, None, **lk)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(now.grey, before.grey, there, None, **lk)
    agree = (found.ravel() == 1) & (found_back.ravel() == 1) & \
        (np.linalg.norm((back - start).reshape(-1, 2), axis=1) < FLOW_AGREEMENT)
    steps = ((there - start).reshape(len(boxes), -1, 2) / before.scale).astype(np.float64)
    agree = agree.reshape(len(boxes), -1)
    for i in np.flatnonzero(agree.sum(axis=1) >= FLOW_MIN_POINTS):
        out[i] = np.median(steps[i][agree[i]], axis=0)
    return out


def motion_step(overlay: Overlay, image: np.ndarray, timestamp_ms: float,
                before: FrameSketch | None = None) -> Detections:
    """The boxes shown on a frame the model skipped (`image` at source time `timestamp_ms`): `overlay`'s moved
    by their measured flow (along their tracks where it cannot be measured); none when the picture changed too
    much since the model's frame. `before`: the model frame's sketch, when already made."""
    if nothing_to_move(overlay):
        return overlay.dets
    before = sketch(overlay.frame.image) if before is None else before
    now = sketch(image)
    if thumbnail_change(before.thumbnail, now.thumbnail) > PICTURE_CHANGE:
        return overlay.dets[torch.zeros(len(overlay.dets), dtype=torch.bool)]
    shift = flow_shifts(before, now, overlay.dets.boxes.detach().cpu().numpy())
    unmeasured = np.isnan(shift).any(axis=1)
    shift[unmeasured] = velocity_shifts(overlay.velocity, timestamp_ms - overlay.frame.timestamp_ms)[unmeasured]
    return shifted(overlay.dets, shift)


def nothing_to_move(overlay: Overlay) -> bool:
    """No boxes, or the model ran without the motion step (no velocities): the step shows them as they are."""
    return overlay.velocity is None or len(overlay.dets) == 0


class MotionStep:
    """`motion_step` for one stream's consumer: the model frame's sketch made once for all the skipped frames
    that show its boxes."""

    def __init__(self):
        self._overlay: Overlay | None = None
        self._before: FrameSketch | None = None

    def __call__(self, overlay: Overlay, image: np.ndarray, timestamp_ms: float) -> Detections:
        if nothing_to_move(overlay):    # before sketching: nothing to compare
            return overlay.dets
        if overlay is not self._overlay:
            self._overlay, self._before = overlay, sketch(overlay.frame.image)
        return motion_step(overlay, image, timestamp_ms, self._before)

"""Tracking for a live view: the annotate tracker, then One-Euro smoothing and short trails per track.

The GUI and `gui --headless` feed every inferred frame through `LiveTracker.update`, with the same rule as
`annotate --track`: the detections above the display threshold (and in the class filter) go to the tracker
(`track_detections`), so a video shows the ids its annotation would get. Smoothing only moves what is
drawn; annotations keep raw detections.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


from centernet.detections import Detections
from centernet.tracking import DEFAULT_TRACKER, make_tracker, track_detections
from centernet.tracking.smoothing import SmoothingConfig, TrackSmoother


@dataclass(frozen=True)
class LiveTrackingOptions:
    track: bool = False                 # ids and trails on the picture
    smooth: bool = False                # One-Euro smoothing of boxes and keypoints (runs the tracker for it)
    tracker: str = DEFAULT_TRACKER
    trail_frames: int = 24              # centres kept per track for its trail
    smoothing: SmoothingConfig = SmoothingConfig()

    @property
    def active(self) -> bool:
        return self.track or self.smooth


@dataclass
class TrackedFrame:
    dets: Detections                    # the tracked detections: above the threshold, `track_ids` set
    trails: dict[int, list] = field(default_factory=dict)   # id -> recent box centres (x, y), oldest first


def smoothing_default(task: str) -> bool:
    """Skeletons jitter most from frame to frame: smoothing starts on for pose models, off for the others."""
    return task == "multi_pose"


class LiveTracker:
    """`frame = live.update(dets, time, threshold, classes)` per inferred frame, in order.

    `time` is the frame's time in seconds (the source's clock: a paused or slow video is smoothed by its own
    time); a time that goes backwards (a seek, a loop) starts the tracks afresh."""

    def __init__(self, options: LiveTrackingOptions = LiveTrackingOptions()):
        self._start(options)

    def _start(self, options: LiveTrackingOptions) -> None:
        self.options = options
        self.tracker = make_tracker(options.tracker)
        self.smoother = TrackSmoother(options.smoothing)
        self.trails: dict[int, deque] = {}
        self.last_seen: dict[int, int] = {}     # id -> update number it was last in
        self.updates = 0
        self.last_time: float | None = None
        self.motion: dict = {}                  # the motion step's memory of each track (centernet/live/motion.py)

    def set_options(self, options: LiveTrackingOptions) -> None:
        """Switching ids, trails or smoothing on or off keeps the tracks and their ids; another tracker, trail
        length or smoothing setting starts afresh. Trails start anew when ids are switched back on."""
        fixed = lambda o: (o.tracker, o.trail_frames, o.smoothing)  # noqa: E731
        if fixed(options) != fixed(self.options):
            self._start(options)
            return
        if options.track and not self.options.track:
            self.trails, self.last_seen = {}, {}
        self.options = options

    def reset(self) -> None:
        self.tracker.reset()
        self.smoother.reset()
        self.trails, self.last_seen, self.updates = {}, {}, 0
        self.last_time = None
        self.motion = {}

    def update(self, dets: Detections, time: float, threshold: float, classes=None) -> TrackedFrame:
        if self.last_time is not None and time <= self.last_time:
            self.reset()
        self.last_time = time
        tracked = track_detections(self.tracker, dets, threshold, classes)
        if self.options.smooth:
            tracked = self.smoother(tracked, time)
        if not self.options.track:
            tracked.track_ids = None
            return TrackedFrame(tracked)
        return TrackedFrame(tracked, self._extend_trails(tracked))

    def _extend_trails(self, dets: Detections) -> dict[int, list]:
        """The trails of the tracks in this frame; a track missed for a while keeps its trail when re-found."""
        self.updates += 1
        d = dets.numpy()
        seen = []
        for box, track in zip(d["boxes"], d["track_ids"]):
            if track > 0:
                trail = self.trails.setdefault(int(track), deque(maxlen=self.options.trail_frames))
                trail.append((float(box[0] + box[2]) / 2.0, float(box[1] + box[3]) / 2.0))
                self.last_seen[int(track)] = self.updates
                seen.append(int(track))
        for track in [t for t, n in self.last_seen.items() if self.updates - n > self.options.trail_frames]:
            del self.trails[track], self.last_seen[track]
        return {t: list(self.trails[t]) for t in seen}

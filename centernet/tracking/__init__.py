"""Trackers: a track id per detection, frame after frame, with state that resumes exactly.

`make_tracker("bytetrack" | "greedy", options)` builds one; `options` is that tracker's frozen config
(None for its defaults). Every tracker follows `Tracker`, so annotate, the GUI and `main.py track` use
them alike.
"""
from __future__ import annotations

from typing import Protocol

import torch

from centernet.detections import Detections
from centernet.errors import ConfigError
from centernet.tracking.bytetrack import ByteTrackConfig, ByteTracker
from centernet.tracking.greedy import GreedyTracker, TrackerConfig

TRACKERS = {"bytetrack": (ByteTracker, ByteTrackConfig), "greedy": (GreedyTracker, TrackerConfig)}
DEFAULT_TRACKER = "bytetrack"


class Tracker(Protocol):
    def update(self, dets: Detections) -> torch.Tensor:
        """Track ids (int64, one per detection, -1 for none yet) for the next frame's detections."""

    def reset(self) -> None: ...

    def state_dict(self) -> dict:
        """JSON-ready state; `load_state_dict` of it continues with the same ids."""

    def load_state_dict(self, state: dict) -> None: ...


def track_detections(tracker: Tracker | None, dets: Detections, threshold: float, classes=None) -> Detections:
    """The detections a tracker is fed (in the class filter, above the threshold) with their track ids set:
    one rule for annotate, the GUI and gui --headless, so a video gets the same ids in each (no tracker:
    the same detections, without ids)."""
    kept = dets.only_labels(classes).above(threshold)
    if tracker is not None:
        kept.track_ids = tracker.update(kept)
    return kept


def make_tracker(name: str = DEFAULT_TRACKER, options=None) -> Tracker:
    if name not in TRACKERS:
        raise ConfigError(f"unknown tracker {name!r}: choose one of {', '.join(TRACKERS)}")
    tracker_class, config_class = TRACKERS[name]
    if options is not None and not isinstance(options, config_class):
        raise ConfigError(f"tracker {name!r} takes {config_class.__name__} options, not {type(options).__name__}")
    return tracker_class(options if options is not None else config_class())

"""The typed records that travel between a stream's threads and out to its user."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from centernet.detections import Detections


@dataclass(frozen=True)
class LiveFrame:
    """A frame on its way through the pipeline."""

    image: np.ndarray       # BGR uint8
    index: int              # 0-based position in the source (dropped frames counted)
    timestamp_ms: float     # the source's time: container timestamps, or ms since a live source's first frame
    captured_at: float      # time.perf_counter() when the frame was ready
    capture_ms: float       # time to read and decode it
    lap: int = 0            # how many times a looping source started again


@dataclass(frozen=True)
class SourceInfo:
    spec: str
    kind: str               # camera, stream, folder, image or video
    fps: float
    size: tuple[int, int]
    frame_count: int | None
    is_live: bool

    @property
    def seekable(self) -> bool:
        """A file or a folder: a position to seek to and a length (a seek bar; a replay once it ended)."""
        return self.kind in ("video", "folder")

    def describe(self) -> str:
        w, h = self.size
        length = f", {self.frame_count} frames" if self.frame_count else ""
        return f"{self.kind} {self.spec}: {w}x{h} @ {self.fps:.3g} fps{length}"


@dataclass(frozen=True)
class StreamEvent:
    """Something a front end may say: `kind` is "opened" (with `info`), "status" (reconnecting, ...) or, with
    several sources, "failed" (the stream is left; `message` says why)."""

    stream: int
    kind: str
    message: str
    info: SourceInfo | None = None


@dataclass(frozen=True)
class Overlay:
    """One model run: the detections of `frame` (above the threshold, tracked when asked) and what moves them."""

    frame: LiveFrame
    dets: Detections
    timings: dict
    done_at: float                       # perf_counter when the model thread finished
    run: int                             # model runs of this stream so far, this one included
    velocity: np.ndarray | None = None   # (N, 4) per ms of source time of (cx, cy, aspect, h); None: no motion step
    trails: dict = field(default_factory=dict)   # track id -> recent centres (with ids shown)


@dataclass(frozen=True)
class StreamResult:
    """One frame shown: the frame itself and what belongs on it."""

    stream: int                          # the source's index (0 with one source)
    frame_index: int                     # 0-based position in the source, dropped frames counted
    timestamp_ms: float
    image: np.ndarray                    # the BGR frame, not drawn on
    detections: Detections               # in image pixels, above the threshold; empty before the first model run
    inferred: bool                       # the detections are the model's run on this very frame (False: an
                                         # earlier run's, moved; also on a frame whose own run ends too late)
    track_ids: np.ndarray | None         # one id per detection (-1: not confirmed yet) when tracking; else None
    overlay_age_ms: float | None         # how much older the frame the model last ran on is (None: none yet)
    timings: dict                        # stage -> ms (capture, pre, net, decode, post, track, motion, end_to_end)
    dropped: int                         # frames of this source never shown, so far


@dataclass(frozen=True)
class StreamStatus:
    """Where one stream of a `Stream` stands (`Stream.status(i)`)."""

    stream: int
    spec: str
    phase: str                           # connecting, playing, reconnecting, ended or failed
    info: SourceInfo | None
    frames_read: int
    inferences: int                      # model runs on this stream
    skipped: int
    dropped: int
    reconnects: int
    error: str | None                    # why it failed

    @property
    def played(self) -> bool:
        """It gave at least one frame."""
        return self.frames_read > 0

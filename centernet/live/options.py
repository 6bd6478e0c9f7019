"""StreamOptions: how `centernet.live.stream` plays a source and what it puts in each result (declared once)."""
from __future__ import annotations

from dataclasses import dataclass

from centernet.io.sources import STREAM_OPEN_TIMEOUT_S, STREAM_READ_TIMEOUT_S
from centernet.tracking.live import LiveTrackingOptions


@dataclass(frozen=True)
class StreamOptions:
    realtime: bool = True                # files at their own rate (False: as fast as the model goes, every frame)
    hold: bool = False                   # real time, but only the frames the model ran on (for judging accuracy)
    loop: bool = False                   # start a video or folder again at its end
    threshold: float = 0.3               # detections below this score are left out of every result
    classes: frozenset | None = None     # class indices kept (None: all)
    tracking: LiveTrackingOptions = LiveTrackingOptions()   # track ids / trails and One-Euro smoothing
    motion: bool = True                  # frames the model skipped: boxes moved by their flow (none after a cut)
    folder_dwell_s: float = 1.0          # an image of a folder stays this long in real-time play
    connect_timeout_s: float | None = 30.0   # a source that never gave a frame is given up after this (None: never)
    open_timeout_s: float = STREAM_OPEN_TIMEOUT_S   # a URL: bound on opening it
    read_timeout_s: float = STREAM_READ_TIMEOUT_S   # a URL: a read that waits longer has ended (then reconnect)

    @property
    def show_every_frame(self) -> bool:
        """Every frame at the source's rate with the newest detections (else only the frames the model ran on)."""
        return self.realtime and not self.hold

    @property
    def join_timeout_s(self) -> float:
        """How long leaving the loop may wait for the threads: a URL's open or read may be under way."""
        return max(2.0, self.open_timeout_s, self.read_timeout_s)

"""The capture actor: a QThread that reads frames from one source and does nothing else.

Video files play at their own frame rate (from the container's timestamps) or as fast as the
inference worker takes frames; pause, step, seek and loop apply to seekable sources. Live sources
(cameras, streams) that stop delivering are reopened with a status message per attempt (a stream
that stays connected but goes silent ends after `sources.STREAM_READ_TIMEOUT_S`); a stream that
refuses the first connection is retried the same way, with back-off until it answers or is stopped. Frames that
fail to decode are skipped and counted by `FrameSource`. Every control call is thread-safe and
cheap: it sets a flag under the lock and wakes the thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from centernet.errors import CenterNetError
from centernet.io.sources import FrameSource, list_cameras, source_kind


@dataclass
class CapturedFrame:
    """A frame on its way through the pipeline."""

    image: np.ndarray       # BGR uint8
    index: int              # 0-based index in the source
    timestamp_ms: float     # container / sequence time
    captured_at: float      # time.perf_counter() when the frame was ready
    capture_ms: float       # time to read and decode it
    skipped: int = 0        # corrupt frames skipped so far
    frame_count: int | None = None
    source_fps: float = 25.0
    is_live: bool = False
    generation: int = 0     # which source (a new source bumps it)


@dataclass
class SourceInfo:
    spec: str
    kind: str
    fps: float
    size: tuple[int, int]
    frame_count: int | None
    is_live: bool
    seekable: bool

    def describe(self) -> str:
        w, h = self.size
        length = f", {self.frame_count} frames" if self.frame_count else ""
        return f"{self.kind} {self.spec}: {w}x{h} @ {self.fps:.3g} fps{length}"


def parse_source(spec) -> str | int:
    """A camera index stays an int; everything else is a path or URL string."""
    text = str(spec).strip()
    return int(text) if text.isdigit() else text


class CaptureThread(QThread):
    """Reads frames from `spec` and emits them; see the module docstring."""

    frame_ready = pyqtSignal(object)   # CapturedFrame (connect with a DirectConnection to a mailbox)
    opened = pyqtSignal(object)        # SourceInfo
    failed = pyqtSignal(str)           # the source could not be opened: a message for people
    status = pyqtSignal(str)           # stream ended / reconnecting / reconnected / end of file
    reconnected = pyqtSignal()
    ended = pyqtSignal()               # a file reached its end (not looping)
    paused_changed = pyqtSignal(bool)

    RECONNECT_DELAYS = (0.5, 1.0, 2.0, 3.0)  # seconds between attempts (the last one repeats)
    FOLDER_DWELL_S = 1.0       # an image of a folder stays this long in real-time play
    RATE_FRAMES = 10           # frames of a live source timed before its measured rate replaces the label

    def __init__(self, spec, realtime: bool = True, loop: bool = False, ready=None, generation: int = 0,
                 parent=None):
        super().__init__(parent)
        self.spec = parse_source(spec)
        self.kind = source_kind(self.spec)
        self.generation = generation
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._step = 0
        self._seek: int | None = None
        self._realtime = realtime
        self._loop = loop
        self._ready = ready          # callable: True when the consumer wants a frame (as-fast-as-possible mode)
        self._clock = None
        self.reconnect_attempts = 0
        self.source: FrameSource | None = None
        self.info: SourceInfo | None = None
        self.setObjectName(f"capture:{self.spec}")

    # ---- controls (any thread) --------------------------------------------------------------------
    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            changed = self._paused != paused
            self._paused = paused
            self._cond.notify_all()
        if changed:
            self.paused_changed.emit(paused)

    def is_paused(self) -> bool:
        return self._paused

    def step(self) -> None:
        """Pause and show the next frame."""
        self.set_paused(True)
        with self._cond:
            self._step += 1
            self._cond.notify_all()

    def seek(self, index: int) -> None:
        with self._cond:
            self._seek = int(index)
            self._cond.notify_all()

    def set_loop(self, loop: bool) -> None:
        with self._cond:
            self._loop = loop

    def set_realtime(self, realtime: bool) -> None:
        with self._cond:
            self._realtime = realtime
            self._clock = None
            self._cond.notify_all()

    def wake(self) -> None:
        """The consumer took a frame (as-fast-as-possible pacing)."""
        with self._cond:
            self._cond.notify_all()

    # ---- the thread ---------------------------------------------------------------------------------
    def _stopping(self) -> bool:
        return self._stop

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped or woken by a control; True when stopping."""
        with self._cond:
            if not self._stop and seconds > 0:
                self._cond.wait(seconds)
            return self._stop

    def _open(self) -> FrameSource | None:
        try:
            return FrameSource(self.spec, image_fps=1.0 / self.FOLDER_DWELL_S)
        except CenterNetError as e:
            message = str(e)
        except Exception as e:  # OpenCV can raise cv2.error on odd inputs: still a message, not a crash
            message = f"cannot open {self.spec}: {e}"
        if self.kind == "stream":   # one policy for streams: refused at first or dropped later, retry until stopped
            return self._retry(f"stream unreachable: {self.spec} ({message})")
        self.failed.emit(message)
        return None

    def run(self) -> None:
        source = self._open()
        if source is None:
            return
        self.source = source
        self.info = SourceInfo(str(self.spec), source.kind, float(source.fps), tuple(source.size),
                               source.frame_count, source.is_live, source.seekable)
        self.opened.emit(self.info)
        try:
            self._loop_frames()
        finally:
            if self.source is not None:
                self.source.close()   # releases the camera / connection in this thread
                self.source = None

    def _loop_frames(self) -> None:
        self._clock = None            # (perf_counter, timestamp_ms) of the frame that started the clock
        self._arrivals: list[float] = []   # arrival times of a live source's first frames
        at_end = False
        while True:
            with self._cond:
                while not self._stop and self._paused and not self._step and self._seek is None:
                    self._cond.wait(0.25)
                if self._stop:
                    return
                seek, self._seek = self._seek, None
                stepping = self._step > 0
                if stepping:
                    self._step -= 1
                paused, realtime, loop = self._paused, self._realtime, self._loop
            source = self.source
            if seek is not None and source.seekable:
                source.seek(seek)
                self._clock = None
                at_end = False
            elif at_end and (stepping or not paused) and source.seekable:
                source.seek(0)        # play or step pressed at the end: start again
                self._clock = None
                at_end = False
            elif at_end:
                continue
            start = time.perf_counter()
            frame = source.read()
            now = time.perf_counter()
            # a live source's read waits for the frame to arrive: only the decoding after it counts
            read_ms = (now - (source.arrived_at if source.is_live and source.arrived_at else start)) * 1000.0
            if frame is None:
                if source.is_live:
                    if not self._reconnect():
                        return
                    continue
                if loop and source.seekable and source.position > 0:
                    source.seek(0)
                    self._clock = None
                    continue
                at_end = True
                self.status.emit(f"end of {self.kind}: press play to start again")
                self.set_paused(True)
                self.ended.emit()
                continue
            if not (paused or seek is not None) and not source.is_live:
                if realtime:
                    if self._pace(frame.timestamp_ms):
                        return
                elif self._ready is not None:
                    while not self._ready():
                        if self._sleep(0.05):
                            return
            timestamp_ms = frame.timestamp_ms
            if source.is_live:
                timestamp_ms = self._live_clock(source)
            self.frame_ready.emit(CapturedFrame(
                frame.image, frame.index, timestamp_ms, time.perf_counter(), read_ms, source.skipped,
                source.frame_count, float(self.info.fps), source.is_live, self.generation))

    def _live_clock(self, source: FrameSource) -> float:
        """A live frame's time: ms since the first frame arrived. Once RATE_FRAMES frames have come, the
        measured rate replaces the container's label (a 10 fps stream often says 25) and `opened` repeats."""
        arrivals = self._arrivals
        if len(arrivals) < self.RATE_FRAMES:
            arrivals.append(source.arrived_at)
        if len(arrivals) == self.RATE_FRAMES and arrivals[-1] > arrivals[0]:
            measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
            if abs(measured - self.info.fps) > 0.1 * self.info.fps:
                self.info = replace(self.info, fps=round(measured, 1))
                self.opened.emit(self.info)
        return (source.arrived_at - arrivals[0]) * 1000.0

    def _pace(self, timestamp_ms: float) -> bool:
        """Wait until this frame is due at the file's own rate; True when stopping."""
        now = time.perf_counter()
        if self._clock is None:
            self._clock = (now, timestamp_ms)
            return False
        due = self._clock[0] + (timestamp_ms - self._clock[1]) / 1000.0
        if due < now - 0.25 or due > now + 2.0:   # fell behind (slow decode) or timestamps jumped: restart clock
            self._clock = (now, timestamp_ms)
            return False
        while True:
            left = due - time.perf_counter()
            if left <= 0:
                return False
            if self._sleep(left):
                return True
            with self._cond:
                if self._seek is not None or self._paused:
                    return False

    def _reconnect(self) -> bool:
        """Reopen a live source until it works or the thread stops; False when stopping."""
        what = "camera" if self.kind == "camera" else "stream"
        self.source.close()
        source = self._retry(f"{what} ended: {self.spec}")
        if source is None:
            return False
        self.source = source
        self.status.emit(f"reconnected to {self.spec}")
        self.reconnected.emit()
        return True

    def _retry(self, what: str) -> FrameSource | None:
        """Open the source with back-off, a status message per attempt, until it answers; None when stopping."""
        self.status.emit(f"{what}; reconnecting…")
        attempt = 0
        while not self._stop:
            delay = self.RECONNECT_DELAYS[min(attempt, len(self.RECONNECT_DELAYS) - 1)]
            if self._sleep(delay):
                return None
            attempt += 1
            self.reconnect_attempts += 1
            self.status.emit(f"{what}; reconnect attempt {attempt}…")
            try:
                return FrameSource(self.spec)
            except Exception:
                continue
        return None


class CameraLister(QThread):
    """Probes camera indices off the GUI thread (opening a camera can take a second)."""

    found = pyqtSignal(list)

    def run(self) -> None:
        try:
            cams = list_cameras()
        except Exception:
            cams = []
        self.found.emit(cams)

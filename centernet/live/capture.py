"""The capture thread: reads one source and does nothing else.

Opened from one spec (camera index, video file, folder, image, rtsp/http URL) through
`centernet.io.sources.FrameSource`. Files play at their own rate (container timestamps) or, with
`realtime=False`, as fast as the model takes frames; a folder dwells `folder_dwell_s` per image. A live
source that stops delivering is reopened with back-off and a status event per attempt, for as long as
the stream runs (a stream that stays connected but goes silent ends after the read timeout); one that
never gave a frame is given up after `connect_timeout_s` with a `SourceError`. A missing or unreadable
file, a camera that does not exist, fail at once.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from centernet.errors import CenterNetError, InputError, SourceError
from centernet.io.sources import FrameSource, source_kind
from centernet.live.frames import LiveFrame, SourceInfo, StreamEvent
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 3.0)  # seconds between attempts (the last one repeats)
RATE_FRAMES = 10                         # a live source's first frames, timed to measure its real rate


def parse_source(spec) -> str | int:
    """A camera index stays an int; everything else is a path or URL string."""
    text = str(spec).strip()
    return int(text) if text.isdigit() else text


class CaptureThread(threading.Thread):
    """Reads `state.spec` into the state's mailboxes until the source ends or `stop` is set."""

    def __init__(self, state: StreamState, options: StreamOptions, stop: threading.Event,
                 on_event: Callable[[StreamEvent], None] | None = None):
        super().__init__(name=f"capture:{state.spec}", daemon=True)
        self.state = state
        self.options = options
        self.spec = parse_source(state.spec)
        self.kind = source_kind(self.spec)
        self.stop_event = stop
        self.on_event = on_event
        self.source: FrameSource | None = None
        self.started_at = time.monotonic()

    # ---- events ---------------------------------------------------------------------------------------
    def _event(self, event: StreamEvent) -> None:
        """Tell the user's callback, unless the stream is stopping: a thread that outlived `Stream.close`'s
        deadline (an open or read under way) says nothing to a consumer that has gone."""
        if self.on_event is not None and not self.stop_event.is_set():
            self.on_event(event)

    def _say(self, message: str) -> None:
        self._event(StreamEvent(self.state.index, "status", message))

    def _opened(self, info: SourceInfo) -> None:
        with self.state.cond:
            self.state.info = info
        self._event(StreamEvent(self.state.index, "opened", f"source: {info.describe()}", info))

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopping."""
        return self.stop_event.wait(seconds) if seconds > 0 else self.stop_event.is_set()

    # ---- the thread -------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.source = self._open_first()
            if self.source is not None:
                s = self.source
                self._opened(SourceInfo(str(self.spec), s.kind, float(s.fps), tuple(s.size), s.frame_count,
                                        s.is_live))
                self._read_frames()
        except CenterNetError as e:
            self.state.fail(e)
        except Exception as e:   # OpenCV can raise cv2.error on odd inputs: still one message, not a hang
            self.state.fail(InputError(f"cannot read {self.spec}: {type(e).__name__}: {e}"))
        finally:
            if self.source is not None:
                self.source.close()     # releases the camera / connection in this thread
                self.source = None
            self.state.finish_capture()

    def _new_source(self) -> FrameSource:
        o = self.options
        return FrameSource(self.spec, image_fps=1.0 / o.folder_dwell_s, open_timeout_s=o.open_timeout_s,
                           read_timeout_s=o.read_timeout_s)

    def _open_first(self) -> FrameSource | None:
        try:
            return self._new_source()
        except CenterNetError as e:
            if self.kind != "stream":
                raise
            message = str(e)
        except Exception as e:
            if self.kind != "stream":
                raise InputError(f"cannot open {self.spec}: {e}") from None
            message = f"{type(e).__name__}: {e}"
        return self._retry(f"stream unreachable: {self.spec} ({message})")

    def _given_up(self) -> bool:
        """A source that never gave a frame: past the connect timeout (then the error is set)."""
        limit = self.options.connect_timeout_s
        if self.state.frames_read or limit is None or time.monotonic() - self.started_at < limit:
            return False
        self.state.fail(SourceError(f"no frame from {self.spec} within {limit:g} s: check that the source is "
                                    f"running and reachable (or wait longer)"))
        return True

    def _retry(self, what: str) -> FrameSource | None:
        """Open the source with back-off, a status event per attempt, until it answers; None when stopping
        or given up."""
        self._say(f"{what}; reconnecting…")
        self._reconnecting(True)
        try:
            attempt = 0
            while not self.stop_event.is_set() and not self._given_up():
                if self._sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]) or self._given_up():
                    return None
                attempt += 1
                with self.state.cond:
                    self.state.reconnects += 1
                self._say(f"{what}; reconnect attempt {attempt}…")
                try:
                    return self._new_source()
                except Exception:
                    continue
            return None
        finally:
            self._reconnecting(False)

    def _reconnecting(self, on: bool) -> None:
        with self.state.cond:
            self.state.reconnecting = on

    def _read_frames(self) -> None:
        clock = None                 # (perf_counter, timestamp_ms) of the frame that started the clock
        arrivals: list[float] = []   # arrival times of a live source's first frames
        lap = 0
        show_all = self.options.show_every_frame
        while not self.stop_event.is_set() and self.state.error is None:   # a model error ends this stream
            stepping = self._wait_while_paused()
            if stepping is None:
                return
            source = self.source
            if self._seek(source):
                clock = None
            start = time.perf_counter()
            frame = source.read()
            now = time.perf_counter()
            # a live source's read waits for the frame to arrive: only the decoding after it counts
            read_ms = (now - (source.arrived_at if source.is_live and source.arrived_at else start)) * 1000.0
            with self.state.cond:
                self.state.skipped = source.skipped
            if frame is None:
                if source.is_live:
                    if self._given_up() or not self._reconnect():
                        return
                    continue
                if self.state.options.loop and source.seekable and source.position > 0 and self.state.frames_read:
                    source.seek(0)
                    clock, lap = None, lap + 1
                    continue
                return
            if self.stop_event.is_set():
                return
            if not source.is_live:
                if not self.options.realtime:   # a step too: it must not replace a frame the model has not taken
                    if self._wait_until_model_ready():
                        return
                elif not stepping:              # a single step comes at once
                    clock, stopping = self._pace(clock, frame.timestamp_ms)
                    if stopping:
                        return
            timestamp_ms = self._live_time(source, arrivals) if source.is_live else frame.timestamp_ms
            index = self.state.frames_read if source.is_live else frame.index   # a reconnect restarts the source's count
            live = LiveFrame(frame.image, index, float(timestamp_ms), time.perf_counter(), read_ms, lap)
            with self.state.cond:   # checked where the frame is put: once set_paused returns, no frame comes in
                handed = stepping or not self.state.paused
                if handed:
                    self.state.frames_read += 1
                    if show_all:
                        self.state.display.put(live)
                    self.state.model.put(live)
            if not handed and source.seekable:   # paused while this frame was read or waited for its time
                source.seek(frame.index)         # read again on play or step

    def _seek(self, source: FrameSource) -> bool:
        """Go to the frame `Stream.seek` asked for (a seekable source); True when it did."""
        with self.state.cond:
            index, self.state.seek_to = self.state.seek_to, None
        if index is None or not source.seekable:
            return False
        source.seek(index)
        return True

    def _wait_while_paused(self) -> bool | None:
        """While paused, read nothing until a step (or play): True for a single step, False to play on, None
        when stopping. The pacing clock restarts by itself after a pause (the next frame is late)."""
        state = self.state
        with state.cond:
            while state.paused and not state.steps and not self.stop_event.is_set():
                state.cond.wait(0.25)
            if self.stop_event.is_set():
                return None
            if state.paused:
                state.steps -= 1
                return True
            return False

    def _wait_until_model_ready(self) -> bool:
        """As fast as the model goes: the next frame waits until the model took the last one and the consumer
        took every output (nothing dropped); True when stopping."""
        state = self.state
        with state.cond:
            while not self.stop_event.is_set() and not (state.model.empty and state.runs_taken >= state.runs
                                                         and state.error is None):
                state.cond.wait(0.25)
            return self.stop_event.is_set() or state.error is not None

    def _pace(self, clock, timestamp_ms: float):
        """Wait until this frame is due at the file's own rate: (clock, stopping)."""
        now = time.perf_counter()
        if clock is None:
            return (now, timestamp_ms), False
        due = clock[0] + (timestamp_ms - clock[1]) / 1000.0
        if due < now - 0.25 or due > now + 2.0:   # fell behind (slow decode) or timestamps jumped: restart the clock
            return (now, timestamp_ms), False
        return clock, self._sleep(due - now)

    def _live_time(self, source: FrameSource, arrivals: list[float]) -> float:
        """A live frame's time: ms since the first frame arrived. Once RATE_FRAMES frames have come, the
        measured rate replaces the container's label (a 10 fps stream often says 25) and "opened" repeats."""
        if len(arrivals) < RATE_FRAMES:
            arrivals.append(source.arrived_at)
            info = self.state.info
            if len(arrivals) == RATE_FRAMES and arrivals[-1] > arrivals[0] and info is not None:
                measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
                if abs(measured - info.fps) > 0.1 * info.fps:
                    self._opened(SourceInfo(info.spec, info.kind, round(measured, 1), info.size, info.frame_count,
                                            info.is_live))
        return (source.arrived_at - arrivals[0]) * 1000.0

    def _reconnect(self) -> bool:
        """Reopen a live source until it works, the thread stops or (never a frame) the connect timeout passes."""
        what = "camera" if self.kind == "camera" else "stream"
        self.source.close()
        self.source = None
        source = self._retry(f"{what} ended: {self.spec}")
        if source is None:
            return False
        self.source = source
        self._say(f"reconnected to {self.spec}")
        return True

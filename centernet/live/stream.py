"""`stream(source, ...)`: a source played through a Detector, as an iterator of `StreamResult`.

    with stream("rtsp://camera/1", track=True) as results:
        for r in results:
            print(r.frame_index, len(r.detections), r.inferred)

Three actors (STYLE.md, "The app"): the capture thread reads frames, the model thread runs the
Detector on the newest one, and the user's loop (this iterator) takes each frame shown with what
belongs on it. In real time (the default) every frame comes at the source's rate with the newest
detections, moved to the frame's own time along their tracks (the motion step) when the model skipped
it; `realtime=False` gives every frame of a file, each inferred, as fast as the model goes;
`hold=True` only the frames the model ran on. Leaving the loop (`break`, an exception, the `with`
block's end) stops every thread it started within `StreamOptions.join_timeout_s`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from centernet.detections import Detections
from centernet.errors import ConfigError, InputError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.io.sources import source_kind
from centernet.live.capture import CaptureThread, parse_source
from centernet.live.frames import LiveFrame, Overlay, SourceInfo, StreamEvent, StreamResult
from centernet.live.model import ModelThread
from centernet.live.motion import moved
from centernet.live.options import StreamOptions
from centernet.library_logs import route_library_logs
from centernet.live.state import StreamState
from centernet.tracking.live import LiveTracker, LiveTrackingOptions, smoothing_default


class Stream:
    """The iterator `stream()` returns; also a context manager. `poll()` serves front ends with a clock, and the
    runtime controls below (options, detector, pause / step / seek, rerun) their buttons. `detector` may be None
    until one is set: every frame is then shown with no detections."""

    def __init__(self, source, detector, options: StreamOptions = StreamOptions(),
                 on_event: Callable[[StreamEvent], None] | None = None, verbose: bool = False, *,
                 start_at: int = 0, paused: bool = False):
        if not verbose:
            route_library_logs(verbose=False)
        self.detector = detector
        self.options = options
        self.cond = threading.Condition()
        self.stop_event = threading.Event()
        self.state = StreamState(0, source, self.cond, options)
        self.states = [self.state]
        self.state.seek_to = start_at or None     # a front end starting again where it was (a seekable file)
        self.state.paused = paused
        if options.tracking.active or options.motion:
            self.state.tracker = LiveTracker(options.tracking)
        self.threads: list[threading.Thread] = [
            CaptureThread(self.state, options, self.stop_event, on_event),
            ModelThread(detector, [self.state], options, self.cond, self.stop_event)]
        self.shown = 0
        self.taken = 0     # results taken out of the pipeline (under the lock; `shown` counts them once built)
        self.first_shown_at: float | None = None
        self._ended = False
        self._closed = False
        for thread in self.threads:
            thread.start()

    # ---- the user's side --------------------------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self) -> StreamResult:
        while True:
            result = self.poll(0.5)
            if result is not None:
                return result
            if self._ended:
                raise StopIteration

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):   # a loop left without `with`: at least tell the threads to stop
        self.stop_event.set()

    @property
    def ended(self) -> bool:
        """The source ended and every result was handed out."""
        return self._ended

    @property
    def info(self) -> SourceInfo | None:
        return self.state.info

    @property
    def inferences(self) -> int:
        """Model runs so far."""
        return self.state.runs

    @property
    def skipped(self) -> int:
        """Frames that failed to decode and were skipped."""
        return self.state.skipped

    @property
    def trails(self) -> dict:
        """Track id -> recent centres of the newest model run (with `track=True`)."""
        overlay = self.state.overlay
        return overlay.trails if overlay is not None else {}

    # ---- runtime controls (any thread) -------------------------------------------------------------------
    def set_options(self, options: StreamOptions, stream: int | None = None) -> None:
        """What the model keeps and does from its next run on (threshold, classes, tracking, motion) for stream
        `stream` (None: every stream), and whether a file loops. How it plays (real time, hold, timeouts) is fixed
        when the stream starts: open a new one to change it (`start_at` goes on where it was)."""
        fixed = ("realtime", "hold", "folder_dwell_s", "connect_timeout_s", "open_timeout_s", "read_timeout_s")
        changed = [name for name in fixed if getattr(options, name) != getattr(self.options, name)]
        if changed:
            raise ConfigError(f"{', '.join(changed)} cannot change while the stream runs: start a new stream")
        with self.cond:
            for state in self.states if stream is None else [self.states[stream]]:
                state.options = options     # the model thread's tracker follows it at its next run
            if stream is None:
                self.options = options
            self.cond.notify_all()

    def options_of(self, stream: int = 0) -> StreamOptions:
        return self.states[stream].options

    def set_detector(self, detector) -> None:
        """Run `detector` from the next frame on. A run of the previous one still under way is discarded, and the
        previous detections and tracks with it (another model's classes and boxes)."""
        with self.cond:
            self.detector = detector
            for thread in self.threads:
                if isinstance(thread, ModelThread):
                    thread.detector = detector
            for state in self.states:
                state.overlay = None
                state.last_inferred_ms = None
                if state.tracker is not None:
                    state.tracker.reset()
            self.cond.notify_all()

    def set_paused(self, paused: bool) -> None:
        """Paused, the sources read no frame (the model finishes the frame it has); `step()` reads one."""
        with self.cond:
            for state in self.states:
                state.paused = paused
                state.steps = 0
            self.cond.notify_all()

    @property
    def paused(self) -> bool:
        return self.state.paused

    def step(self) -> None:
        """Pause (if playing) and read one more frame: in real time it is shown with its own detections."""
        with self.cond:
            for state in self.states:
                state.paused = True
                state.steps += 1
            self.cond.notify_all()

    def seek(self, frame_index: int) -> None:
        """A seekable source (a file) goes on from `frame_index` (paused: a step or play reads it)."""
        with self.cond:
            for state in self.states:
                state.seek_to = int(frame_index)
            self.cond.notify_all()

    def rerun(self) -> bool:
        """The newest result's frame again, the model run on it anew: while paused, a changed option or model
        shows at once. False when there is no such frame, the source ended or the model is busy."""
        state = self.state
        with self.cond:
            frame = state.last_shown
            if frame is None or state.capture_done or self.detector is None or not state.model_idle:
                return False
            frame = replace(frame)      # another object: the consumer waits for the new run, not the last one
            if self.options.show_every_frame:
                state.display.put(frame)
            state.model.put(frame)
            return True

    def poll(self, timeout_s: float) -> StreamResult | None:
        """The next result, or None when none came within `timeout_s` or the source ended (see `ended`).
        A source or model error is raised here (and the stream closed)."""
        try:
            if self.options.show_every_frame:
                taken = self._take_frame(timeout_s)
            else:
                taken = self._take_inferred(timeout_s)
        except BaseException:
            self.close()
            raise
        if taken is None:
            return None
        frame, overlay = taken
        return self._result(frame, overlay)

    def _raise_error(self) -> None:
        error = self.state.error
        if error is not None:
            raise error

    def _take_frame(self, timeout_s: float) -> tuple[LiveFrame, Overlay | None] | None:
        """Every-frame mode: the newest frame, with its own model output when the model runs on it."""
        state = self.state
        with self.cond:
            frame = self._wait(state.display.take, True, timeout_s)
            if frame is None:
                return None
            # the model runs (or is about to run) on this very frame: wait for its output, unless the next
            # frame comes first (then this one is shown with the detections it has)
            # (paused, a step's frame waits its turn behind the model's current run: no next frame comes)
            own = self.detector is not None and (state.inferring is frame or (
                state.model.peek() is frame and (state.inferring is None or state.paused)))
            while own and not self.stop_event.is_set() and state.display.empty and state.error is None:
                overlay = state.overlay
                if overlay is not None and overlay.frame is frame:
                    break
                if state.inferring is not frame and state.model.peek() is not frame:
                    break
                self.cond.wait(0.25)
            self._raise_error()
            return frame, state.overlay

    def _take_inferred(self, timeout_s: float) -> tuple[LiveFrame, Overlay] | None:
        """Only-inferred-frames mode: the newest model output not handed out yet."""
        state = self.state

        def newest_run() -> tuple[LiveFrame, Overlay] | None:
            if state.runs > state.runs_taken and state.overlay is not None:
                state.runs_taken = state.runs
                self.cond.notify_all()
                return state.overlay.frame, state.overlay
            return None

        with self.cond:
            return self._wait(newest_run, False, timeout_s)

    def _wait(self, take: Callable[[], object], show_every_frame: bool, timeout_s: float):
        """Under `self.cond`: what `take()` gives once it gives something; None when the source is drained
        (the stream then ends), the stream closed, or `timeout_s` passed. A source or model error is raised."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._raise_error()
            taken = take()
            if taken is not None:
                self.taken += 1
                return taken
            if self.state.drained(show_every_frame):
                self._ended = True
                return None
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                return None
            self.cond.wait(left)

    def _result(self, frame: LiveFrame, overlay: Overlay | None) -> StreamResult:
        o = self.state.options
        timings = {"capture": frame.capture_ms}
        if overlay is not None and (overlay.frame.lap != frame.lap or overlay.frame.index > frame.index):
            overlay = None     # from the previous lap of a loop: nothing until the model catches up
        if overlay is None:
            dets, inferred, age = Detections.empty(self._joints()), False, None
        else:
            timings.update(overlay.timings)
            dets, inferred = overlay.dets, overlay.frame is frame
            age = 0.0 if inferred else max(0.0, (frame.captured_at - overlay.frame.captured_at) * 1000.0)
            if not inferred and o.motion and overlay.velocity is not None:
                start = time.perf_counter()
                dets = moved(dets, overlay.velocity, frame.timestamp_ms - overlay.frame.timestamp_ms)
                timings["motion"] = timings.get("motion", 0.0) + (time.perf_counter() - start) * 1000.0
        now = time.perf_counter()
        timings["end_to_end"] = (now - frame.captured_at) * 1000.0
        if self.first_shown_at is None:
            self.first_shown_at = now
        self.shown += 1
        self.state.last_shown = frame
        track_ids = dets.track_ids.cpu().numpy() if o.tracking.track and dets.track_ids is not None else None
        with self.cond:
            dropped = self.state.dropped(o.show_every_frame)
        return StreamResult(self.state.index, frame.index, frame.timestamp_ms, frame.image, dets, inferred, track_ids,
                            age, timings, dropped)

    def _joints(self) -> int:
        info = getattr(self.detector, "info", None)
        return int(getattr(info, "num_joints", 0) or 0) if info is not None else 0

    # ---- shutdown ---------------------------------------------------------------------------------------
    def close(self, timeout_s: float | None = None) -> bool:
        """Stop every thread and wait for them (at most `timeout_s`, default the options' join timeout);
        True when all ended. A forward pass under way is waited for, never interrupted."""
        self.stop_event.set()
        with self.cond:
            self._closed = True
            self.cond.notify_all()
        deadline = time.monotonic() + (self.options.join_timeout_s if timeout_s is None else timeout_s)
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    @property
    def alive_threads(self) -> list[threading.Thread]:
        return [t for t in self.threads if t.is_alive()]


def check_source(source) -> None:
    """Fail at once on a local file that is missing, before a model is loaded."""
    spec = parse_source(source)
    kind = source_kind(spec)
    if kind in ("video", "image") and not Path(str(spec)).is_file():
        raise InputError(f"input not found: {spec} (check the path)")


def stream(source, config: DetectorConfig = DetectorConfig(), *, realtime: bool = True, track: bool = False,
           smooth: bool | None = None, threshold: float = 0.3, classes=None, hold: bool = False, loop: bool = False,
           motion: bool = True, detector: Detector | None = None, options: StreamOptions | None = None,
           on_event: Callable[[StreamEvent], None] | None = None, verbose: bool = False) -> Stream:
    """Play `source` (camera index, video file, folder, image, rtsp/http URL) through a Detector.

    `config` picks the model (or pass a loaded `detector`). `realtime`: the source's own rate, every frame
    shown with the newest detections (False: every frame of a file, each inferred, as fast as the model
    goes); `hold`: only the frames the model ran on; `track`: track ids; `smooth`: One-Euro smoothing (None:
    on for pose models); `threshold` / `classes`: what the detections keep; `motion`: move the boxes of
    frames the model skipped along their tracks. `options` replaces all of these at once. `on_event` is
    called (from the capture thread) with each `StreamEvent` (source opened, reconnecting...)."""
    check_source(source)
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold {threshold} is outside 0..1")
    if detector is None:
        detector = Detector.from_config(config)
    if options is None:
        smooth = smoothing_default(detector.info.task) if smooth is None else smooth
        options = StreamOptions(realtime=realtime, hold=hold, loop=loop, threshold=float(threshold),
                                classes=frozenset(classes) if classes is not None else None,
                                tracking=LiveTrackingOptions(track=track, smooth=smooth), motion=motion)
    return Stream(source, detector, options, on_event, verbose)

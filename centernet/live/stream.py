"""`stream(sources, ...)`: one source or several played through one Detector, as an iterator of `StreamResult`.

    with stream("rtsp://camera/1", track=True) as results:
        for r in results:
            print(r.frame_index, len(r.detections), r.inferred)

    for r in stream([0, "rtsp://camera/2", "clip.mp4"]):    # r.stream: the source's index in the list
        ...

Three actors (STYLE.md, "The app"): a capture thread per source reads frames, one model thread runs the
Detector on the newest frame of every stream (model.py: round robin, batched where the backend gains), and
the user's loop (this iterator) takes each frame shown with what belongs on it. In real time (the default)
every frame comes at the source's rate with the newest detections, moved to where their objects are on
that frame (the motion step: optical flow, or their tracks) when the model skipped it; `realtime=False`
gives every frame of a file, each inferred, as fast as the model goes; `hold=True` only the frames the
model ran on. With several sources the results of every stream come as each is ready, taken round robin
(no stream's results wait behind another's); a stream that fails (never connects within the connect
timeout, a decode or model error) is reported on its own (a "failed" `StreamEvent`, `status(i)`) and the
others go on; with one source its error is raised from `poll()` / the loop. Leaving the loop (`break`, an
exception, the `with` block's end) stops every thread it started within `StreamOptions.join_timeout_s`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from centernet.classes import parse_classes
from centernet.detections import Detections
from centernet.errors import CenterNetError, ConfigError, InputError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.io.input_list import numbered_inputs, read_list_file
from centernet.io.sources import FrameSource, source_kind
from centernet.live.capture import CaptureThread, parse_source
from centernet.live.frames import LiveFrame, Overlay, SourceInfo, StreamEvent, StreamResult, StreamStatus
from centernet.live.model import MODEL_WORKERS, ModelThread, Turn, set_parallel_runs
from centernet.live.options import StreamOptions
from centernet.library_logs import route_library_logs
from centernet.live.state import StreamState, in_turn
from centernet.tracking.live import LiveTracker, LiveTrackingOptions, smoothing_default


def source_list(sources) -> list:
    """One spec (camera index, path, URL) or a list / tuple of them, as a list; an empty one is a ConfigError."""
    specs = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not specs:
        raise ConfigError("no source given: name at least one camera index, file, folder or URL")
    return specs


class Stream:
    """The iterator `stream()` returns; also a context manager. `poll()` serves front ends with a clock, and the
    runtime controls below (options, detector, pause / step / seek, rerun) their buttons. `detector` may be None
    until one is set: every frame is then shown with no detections.

    `states[i]` is the i-th source's `StreamState` (its own options, tracker, mailboxes and counters)."""

    def __init__(self, sources, detector, options: StreamOptions = StreamOptions(),
                 on_event: Callable[[StreamEvent], None] | None = None, verbose: bool = False, *,
                 start_at: int | Sequence[int] = 0, paused: bool = False):
        self.stop_event = threading.Event()     # first: __del__ sets it, also after a failed __init__
        specs = source_list(sources)
        if not verbose:
            route_library_logs(verbose=False)
        self.detector = detector
        self.options = options
        self.on_event = on_event
        self.cond = threading.Condition()
        self.states = [StreamState(i, spec, self.cond, options) for i, spec in enumerate(specs)]
        starts = [start_at] * len(specs) if isinstance(start_at, int) else list(start_at)
        if len(starts) != len(specs):
            raise ConfigError(f"start_at names {len(starts)} positions for {len(specs)} sources: give one each")
        for state, start in zip(self.states, starts):
            state.seek_to = start or None        # a front end starting again where it was (a seekable file)
            state.paused = paused
            if options.tracking.active or options.motion:
                state.tracker = LiveTracker(options.tracking)
        self.threads: list[threading.Thread] = [
            *(CaptureThread(state, options, self.stop_event, on_event) for state in self.states),
            *self._model_workers(detector, options)]
        self.shown = 0
        self.taken = 0     # results taken out of the pipeline (under the lock; `shown` counts them once built)
        self.first_shown_at: float | None = None
        self._turn = 0                 # the stream the consumer looks at first next time (round robin)
        self._ended = False
        self._closed = False
        for thread in self.threads:
            thread.start()

    def _model_workers(self, detector, options: StreamOptions) -> list[ModelThread]:
        """One model thread; with several streams, or as fast as the model goes, a second beside it (it works
        where the backend may run two frames at once: `ModelThread.working`)."""
        turn = self.model_turn = Turn()
        workers = MODEL_WORKERS if len(self.states) > 1 or not options.realtime else 1
        return [ModelThread(detector, self.states, options, self.cond, self.stop_event, worker, turn)
                for worker in range(workers)]

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
    def multi(self) -> bool:
        return len(self.states) > 1

    @property
    def ended(self) -> bool:
        """Every source ended (or, with several, failed) and every result was handed out."""
        return self._ended

    @property
    def info(self) -> SourceInfo | None:
        """The first source's (see `infos` for every source's)."""
        return self.states[0].info

    @property
    def infos(self) -> list[SourceInfo | None]:
        return [state.info for state in self.states]

    @property
    def runs_at_once(self) -> int:
        """Model runs the backend was last told to make at once (two frames of one stream in flight, or several
        streams): above one, each result's stage times are those of a run that shared the device."""
        return self.model_turn.told[1]

    @property
    def inferences(self) -> int:
        """Model runs so far (every stream's)."""
        return sum(state.runs for state in self.states)

    def inferences_of(self, stream: int) -> int:
        """Model runs of one stream so far."""
        return self.states[stream].runs

    @property
    def skipped(self) -> int:
        """Frames that failed to decode and were skipped (every stream's)."""
        return sum(state.skipped for state in self.states)

    def skipped_of(self, stream: int) -> int:
        return self.states[stream].skipped

    @property
    def trails(self) -> dict:
        """Track id -> recent centres of the model run behind the first stream's newest result (with `track=True`)."""
        return self.trails_of(0)

    def trails_of(self, stream: int) -> dict:
        """The trails of the run stream `stream`'s newest result shows (not of a run that ended since: as fast as
        the model goes the next frame's run often has, while the result is drawn)."""
        overlay = self.states[stream].shown_overlay
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
            self._release_detector()
            self.detector = detector
            for thread in self.threads:
                if isinstance(thread, ModelThread):
                    thread.detector = detector
            for state in self.states:
                state.overlay = None
                if not self.options.show_every_frame:
                    # its untaken output went with it (else the next run and, as fast as the model goes, the
                    # capture would wait for the consumer to take it, for ever)
                    state.drop_untaken_outputs()
                if state.tracker is not None:   # a new one: a run under way may still update the old one
                    state.tracker = LiveTracker(state.tracker.options)
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
        return self.states[0].paused

    def step(self, stream: int | None = None) -> None:
        """Pause (if playing) and read one more frame of stream `stream` (None: of every stream): in real time it is
        shown with its own detections."""
        with self.cond:
            for state in self._chosen(stream):
                state.paused = True
                state.steps += 1
            self.cond.notify_all()

    def seek(self, frame_index: int, stream: int | None = None) -> None:
        """A seekable source (a file, a folder) of stream `stream` (None: every stream) goes on from `frame_index`
        (paused: a step or play reads it); one that already ended plays again from there (with several sources,
        while the others go on)."""
        with self.cond:
            for state in self._chosen(stream):
                state.seek_to = int(frame_index)
                if self._replayable(state):
                    self._restart_capture(state)
            self.cond.notify_all()

    def _chosen(self, stream: int | None) -> list[StreamState]:
        return self.states if stream is None else [self.states[stream]]

    def _replayable(self, state: StreamState) -> bool:
        """Under `self.cond`: a file or folder that ended (not failed), its capture thread done, the stream open."""
        info = state.info
        return (state.capture_done and state.error is None and not self._closed and info is not None
                and info.seekable)

    def _restart_capture(self, state: StreamState) -> None:
        """Under `self.cond`: a new capture thread for a stream whose source ended (its old thread has returned)."""
        state.capture_done = False
        self._ended = False
        thread = CaptureThread(state, self.options, self.stop_event, self.on_event)
        self.threads.append(thread)
        thread.start()

    def stream_inferring(self, image) -> int | None:
        """The stream whose frame `image` (the very array) a model worker runs on now, or None: how a detector
        wrapper (the window's heatmap tap) tells the runs of several streams apart, two workers' included."""
        with self.cond:
            for state in self.states:
                if any(frame.image is image for frame in state.inferring):
                    return state.index
        return None

    def rerun(self, stream: int = 0) -> bool:
        """Stream `stream`'s newest result's frame again, the model run on it anew: while paused, a changed option
        or model shows at once. False when there is no such frame, the source ended or the model is busy."""
        state = self.states[stream]
        with self.cond:
            frame = state.last_shown
            if frame is None or state.capture_done or self.detector is None or not state.model_idle:
                return False
            frame = replace(frame)      # another object: the consumer waits for the new run, not the last one
            if self.options.show_every_frame:
                state.display.put(frame)
            state.model.put(frame)
            return True

    def status(self, stream: int) -> StreamStatus:
        """Where one stream stands: connecting, playing, reconnecting, ended or failed, with its counters."""
        state = self.states[stream]
        with self.cond:
            error = state.error
            if error is not None:
                phase = "failed"
            elif state.capture_done:
                phase = "ended"
            elif state.reconnecting:
                phase = "reconnecting"
            else:
                phase = "playing" if state.frames_read else "connecting"
            return StreamStatus(state.index, str(state.spec), phase, state.info, state.frames_read, state.runs,
                                state.skipped, state.dropped(self.options.show_every_frame), state.reconnects,
                                None if error is None else error_text(error))

    def done(self, stream: int) -> bool:
        """Stream `stream` gives no more results: its source ended and every result was handed out (a source that
        ended may still have runs under way, or outputs not taken yet), or it failed."""
        with self.cond:
            return self._done(self.states[stream])

    @property
    def statuses(self) -> list[StreamStatus]:
        return [self.status(i) for i in range(len(self.states))]

    def poll(self, timeout_s: float) -> StreamResult | None:
        """The next result of any stream, or None when none came within `timeout_s` or every source ended
        (see `ended`). With one source its error is raised here (and the stream closed); with several a
        failed stream is reported (a "failed" event) and left while the others go on."""
        try:
            taken = self._take(timeout_s)
        except BaseException:
            self.close()
            raise
        if taken is None:
            return None
        state, frame, overlay, dropped = taken
        return self._result(state, frame, overlay, dropped)

    def _take(self, timeout_s: float) -> tuple[StreamState, LiveFrame, Overlay | None, int] | None:
        """Under `self.cond`: the next stream's ready frame, the streams looked at round robin starting after
        the last one served; None when every stream is done (the stream then ends), it closed, or `timeout_s`
        passed."""
        deadline = time.monotonic() + timeout_s
        n = len(self.states)
        with self.cond:
            while True:
                self._check_errors()
                for state in in_turn(self.states, self._turn):
                    taken = self._ready(state) if state.error is None else None
                    if taken is not None:
                        self._turn = (state.index + 1) % n
                        self.taken += 1
                        return (state, *taken, state.dropped_before_shown(self.options.show_every_frame))
                if all(self._done(state) for state in self.states):
                    self._ended = True
                    return None
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self.cond.wait(min(left, 0.25))   # a held frame's model run may end without a notify we see

    def _ready(self, state: StreamState) -> tuple[LiveFrame, Overlay | None] | None:
        """Under `self.cond`, without waiting: `state`'s frame to show now, with the overlay it gets."""
        if not self.options.show_every_frame:        # only the frames the model ran on: its newest output
            if state.runs > state.runs_taken and state.overlay is not None:
                state.runs_taken = state.runs
                self.cond.notify_all()
                return state.overlay.frame, state.overlay
            return None
        frame = state.held
        if frame is None:
            frame = state.display.take()
            if frame is None:
                return None
            if not self._model_has(state, frame):
                return frame, state.overlay
            state.held = frame
        # the model runs (or is about to run) on this very frame: it waits for its own output, unless the next
        # frame comes first (then it is shown with the detections it has); other streams are served meanwhile
        overlay = state.overlay
        if ((overlay is not None and overlay.frame is frame) or not self._model_will_run(state, frame)
                or not state.display.empty or self.stop_event.is_set()):
            state.held = None
            return frame, overlay
        return None

    def _model_has(self, state: StreamState, frame: LiveFrame) -> bool:
        """The model runs on `frame` or takes it next (it is idle; or paused: a step's frame waits its turn behind
        the model's current run, and no next frame comes)."""
        return self.detector is not None and (state.runs_on(frame) or (
            state.model.peek() is frame and (not state.inferring or state.paused)))

    @staticmethod
    def _model_will_run(state: StreamState, frame: LiveFrame) -> bool:
        """`frame` is still the model's: under way, or waiting in its mailbox."""
        return state.runs_on(frame) or state.model.peek() is frame

    def _done(self, state: StreamState) -> bool:
        """The stream gives no more results: drained, or (several streams) failed."""
        if state.error is not None:
            return True
        return state.held is None and state.drained(self.options.show_every_frame)

    def _check_errors(self) -> None:
        """Under `self.cond`: one source's error is raised; with several each failed stream is reported once."""
        for state in self.states:
            if state.error is None or state.reported:
                continue
            if not self.multi:
                raise state.error
            state.reported, state.held = True, None
            if self.on_event is not None:
                self.on_event(StreamEvent(state.index, "failed", error_text(state.error)))

    def _result(self, state: StreamState, frame: LiveFrame, overlay: Overlay | None, dropped: int) -> StreamResult:
        o = state.options
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
                dets = state.motion_step(overlay, frame.image, frame.timestamp_ms)
                timings["motion"] = timings.get("motion", 0.0) + (time.perf_counter() - start) * 1000.0
        now = time.perf_counter()
        timings["end_to_end"] = (now - frame.captured_at) * 1000.0
        if self.first_shown_at is None:
            self.first_shown_at = now
        self.shown += 1
        state.last_shown, state.shown_overlay = frame, overlay
        track_ids = dets.track_ids.cpu().numpy() if o.tracking.track and dets.track_ids is not None else None
        return StreamResult(state.index, frame.index, frame.timestamp_ms, frame.image, dets, inferred, track_ids,
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
        ended = join_all(self.threads, self.options.join_timeout_s if timeout_s is None else timeout_s)
        if ended:
            self._release_detector()
        return ended

    def _release_detector(self) -> None:
        """The detector back to one run at a time (the setting a lone caller runs fastest with), when the
        model workers had told its backend more (a user's detector outlives the stream)."""
        with self.model_turn.lock:
            if self.model_turn.told[1] != 1 and self.model_turn.told[0] is not None:
                set_parallel_runs(self.model_turn.told[0], 1)
            self.model_turn.told = (None, 1)

    @property
    def alive_threads(self) -> list[threading.Thread]:
        return [t for t in self.threads if t.is_alive()]


def join_all(threads, timeout_s: float) -> bool:
    """Join every thread but the calling one, all within `timeout_s`; True when every one ended."""
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def error_text(error: BaseException) -> str:
    """A stream's error in one line: a CenterNetError's message as it is, a bug with its type."""
    return str(error) if isinstance(error, CenterNetError) else f"{type(error).__name__}: {error}"


def check_source(source, open_local: bool = False) -> None:
    """Fail at once on a local file that is missing, before a model is loaded; with `open_local`, also on a
    local file or folder OpenCV cannot open (milliseconds, where a first model load may take 20 s: a front
    end's user waits for nothing; a camera or URL is left to its capture thread, which may take seconds)."""
    spec = parse_source(source)
    kind = source_kind(spec)
    if kind in ("video", "image") and not Path(str(spec)).is_file():
        raise InputError(f"input not found: {spec} (check the path)")
    if open_local and kind in ("video", "image", "folder"):
        with FrameSource(spec):
            pass


def read_sources(path: str | Path) -> list[str]:
    """The sources listed in a file (one spec per line, `#` comments, blank lines skipped), each checked as
    `check_source` does; an error names the file and the line."""
    text = read_list_file(path, f"the sources file {path}", "one camera index, file, folder or URL")
    entries = numbered_inputs(text)
    if not entries:
        raise InputError(f"the sources file {path} names no source: write one camera index, file, folder or URL "
                         f"per line")
    for number, spec in entries:
        try:
            check_source(spec)
        except CenterNetError as e:
            raise InputError(f"{path} line {number}: {e}") from None
    return [spec for _, spec in entries]


def class_filter(classes, class_names) -> frozenset | None:
    """`stream()`'s `classes`: names or indices (or one "person,car" string) -> class indices; None keeps every
    class. A name the model does not know is an InputError before any thread starts (not a failed stream)."""
    if classes is None:
        return None
    text = classes if isinstance(classes, str) else ",".join(str(c) for c in classes)
    if not text.strip():
        raise ConfigError("classes names no class: give names or indices, e.g. ['person', 'car'], or None for all")
    return parse_classes(text, class_names)


LIVE_CONFIG = DetectorConfig(precision="auto")   # the window's default: the fastest precision (bf16 where it runs)


def stream(sources, config: DetectorConfig = LIVE_CONFIG, *, realtime: bool = True, track: bool = False,
           smooth: bool | None = None, threshold: float = 0.3, classes=None, hold: bool = False, loop: bool = False,
           motion: bool = True, detector: Detector | None = None, options: StreamOptions | None = None,
           on_event: Callable[[StreamEvent], None] | None = None, verbose: bool = False) -> Stream:
    """Play `sources` (one or a list of: camera index, video file, folder, image, rtsp/http URL) through one
    Detector; each result's `stream` is its source's index in the list.

    `config` picks the model (or pass a loaded `detector`); by default the shipped model at the fastest
    precision, as the window (bf16 where the CPU runs it; a `DetectorConfig` of your own is fp32 unless it
    says). `realtime`: the source's own rate, every frame shown with the newest detections (False: every frame
    of a file, each inferred, as fast as the model goes); `hold`: only the frames the model ran on; `track`:
    track ids; `smooth`: One-Euro smoothing (None: on for pose models); `threshold` / `classes` (names or
    indices): what the detections keep; `motion`: move the boxes of frames the model skipped by their optical
    flow (or along their tracks; none shown where the picture changed since: a cut).
    `options` replaces all of these at once. `on_event` is called with each `StreamEvent` (source opened,
    reconnecting... from the capture threads; a stream failed, with several sources, from the loop's thread)."""
    for source in source_list(sources):
        check_source(source)
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold {threshold} is outside 0..1")
    if detector is None:
        detector = Detector.from_config(config)
    if options is None:
        smooth = smoothing_default(detector.info.task) if smooth is None else smooth
        options = StreamOptions(realtime=realtime, hold=hold, loop=loop, threshold=float(threshold),
                                classes=class_filter(classes, detector.class_names),
                                tracking=LiveTrackingOptions(track=track, smooth=smooth), motion=motion)
    return Stream(sources, detector, options, on_event, verbose)

"""`main.py gui --headless`: the live pipeline (`centernet.live`) with no window and no Qt, printing the
window's readout once a second.

It runs where PyQt6 is not installed. Lines: `serving http://HOST:PORT/` first with --serve (the browser
view, app/web), `engine: ...` and `model: ...` once, `source: ...` when the
source opens, `status: ...` as it reconnects, a readout per second, and `final: ...` for the whole run
(fps counted since the first frame shown, stage medians over the run). Exit codes: 0; 2 when the source
or the model fails, or when no frame was ever read; 130 on Ctrl-C and 143 on SIGTERM (a service manager's
stop, `timeout`, `docker stop`), each after the final line.

Several sources (one model for all): every line about a stream starts with its index (`[1] source: ...`,
`[1] display ...` each second, `final [1]: ...`), a stream that fails says so on its own (`[1] error: ...`
on stderr) while the others go on, and `final total: ...` sums them. Exit codes: 0 when every stream
played, 1 when some never gave a frame while others did, 2 when none did; 130 on Ctrl-C, 143 on SIGTERM.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from app.gui.stats import PipelineStats, device_description, memory_description, total_readout
from app.web import ViewServer
from centernet.errors import CenterNetError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.live import StreamEvent, StreamOptions, draw_result
from centernet.live.stream import Stream, check_source
from centernet.tracking.live import LiveTrackingOptions, smoothing_default

DEFAULT_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HeadlessOptions:
    """What `gui --headless` plays and when it stops."""

    sources: tuple[str, ...] = ()      # camera indices, video files, folders, images or URLs (one model for all)
    threshold: float | None = None     # drawing threshold (None: 0.3)
    max_seconds: float | None = None
    max_frames: int | None = None      # per stream: the run stops once every stream showed this many (or ended)
    realtime: bool = True              # files at their frame rate (False: as fast as the model goes)
    loop: bool = False                 # loop video files
    hold_frames: bool = False          # show only the frames the model ran on
    track: bool = False                # track ids and trails
    smooth: bool | None = None         # One-Euro smoothing (None: on for pose models)
    motion: bool = True                # move the boxes of frames the model skipped by their flow
    connect_timeout_s: float | None = DEFAULT_CONNECT_TIMEOUT_S   # give up on a source that never gave a frame
    verbose: bool = False              # keep FFmpeg's / OpenCV's own log lines
    serve: tuple[str, int] | None = None   # (host, port) of the browser view (app/web); None: no view


class Readout:
    """Prints the per-second and the final lines: one `PipelineStats` per stream."""

    def __init__(self, detector, out, streams: int = 1):
        self.stats = [PipelineStats() for _ in range(streams)]
        self.detector = detector
        self.device = device_description(detector.device)
        self.out = out

    @property
    def multi(self) -> bool:
        return len(self.stats) > 1

    def line(self, stream: int = 0, whole_run: bool = False) -> str:
        """One stream's line (with one stream: the device and memory too, as ever)."""
        if self.multi:
            return self.stats[stream].readout(whole_run=whole_run)
        return self.stats[stream].readout(self.device, memory_description(self.detector.device), whole_run=whole_run)

    def tick(self) -> None:
        """The per-second lines: one per stream that has shown a frame."""
        for i, stats in enumerate(self.stats):
            if stats.displayed:
                say(f"[{i}] {self.line(i)}" if self.multi else self.line(i), self.out)

    def final(self) -> None:
        """The whole run's lines (only for streams that showed a frame)."""
        if not self.multi:
            if self.stats[0].displayed:
                say("final: " + self.line(0, whole_run=True), self.out)
            return
        for i, stats in enumerate(self.stats):
            if stats.displayed:
                say(f"final [{i}]: " + self.line(i, whole_run=True), self.out)
        if any(self.played):
            say("final total: " + total_readout(self.stats, self.device, memory_description(self.detector.device)),
                self.out)

    @property
    def played(self) -> list[bool]:
        return [stats.displayed > 0 for stats in self.stats]


_SAYING = threading.Lock()
EXIT_TERMINATED = 128 + signal.SIGTERM     # 143, as a shell reports a process SIGTERM ended


def say(text: str, out=sys.stdout, err: bool = False) -> None:
    """One whole line: the capture threads' events and the readout's lines come from several threads, and
    `print` writes the text and its newline apart, so two lines could run together."""
    stream = sys.stderr if err else out
    with _SAYING:
        stream.write(text + "\n")
        stream.flush()


def stream_options(options: HeadlessOptions, task: str) -> StreamOptions:
    smooth = options.smooth if options.smooth is not None else smoothing_default(task)
    return StreamOptions(realtime=options.realtime, hold=options.hold_frames, loop=options.loop,
                         threshold=0.3 if options.threshold is None else float(options.threshold),
                         tracking=LiveTrackingOptions(track=options.track, smooth=smooth), motion=options.motion,
                         connect_timeout_s=options.connect_timeout_s)


def run_headless(options: HeadlessOptions, config: DetectorConfig | None, out=sys.stdout) -> int:
    """Returns the process exit code (see the module docstring)."""
    sources = options.sources
    if not sources:
        say("error: --headless needs --source (a camera index, video file, folder, image or URL)", err=True)
        return 2
    view = None
    try:
        for source in sources:
            check_source(source, open_local=True)   # a missing or undecodable file fails before a model loads
        if options.serve is not None:   # a port in use fails before a model is loaded too
            view = ViewServer(options.serve, list(sources))
            say(f"serving {view.url}", out)
        detector = Detector.from_config(config or DetectorConfig())
    except CenterNetError as e:
        if view is not None:
            view.close()
        say(f"error: {e}", err=True)
        return 2
    say(f"engine: {detector.engine_summary}", out)
    say(f"model: {detector.info.describe()} on {detector.device}, input {detector.spec.input_size}", out)
    readout = Readout(detector, out, len(sources))
    started = time.monotonic()
    multi = len(sources) > 1

    def on_event(event: StreamEvent) -> None:
        tag = f"[{event.stream}] " if multi else ""
        if event.kind == "failed":
            say(f"{tag}error: {event.message}", err=True)
        else:
            say(tag + (event.message if event.kind == "opened" else f"status: {event.message}"), out)

    results = Stream(list(sources), detector, stream_options(options, detector.info.task), on_event,
                     verbose=options.verbose)
    with sigterm_as_interrupt() as terminated:
        code = play(results, readout, options, started, view)
    if terminated and code == 130:
        code = EXIT_TERMINATED
    stopped = results.close(timeout_s=2.0)
    if view is not None:
        view.close()
    readout.final()
    code = exit_code(code, readout.played, sources, failed=[s.phase == "failed" for s in results.statuses])
    if not stopped:
        # a thread stuck opening a URL (FFmpeg's open cannot be interrupted) must not hold the exit past
        # --max-seconds, and tearing the interpreter down under it aborts the process: leave at once
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


@contextmanager
def sigterm_as_interrupt():
    """While playing, SIGTERM ends the run as Ctrl-C does (the final readout, every thread stopped) instead of
    killing it mid-line; yields a list that holds True once SIGTERM came. Only the main thread may set handlers."""
    terminated: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield terminated
        return

    def on_term(signum, frame):
        terminated.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(code: int, played: list[bool], sources, failed: list[bool]) -> int:
    """The run's exit code from `play`'s and which streams showed a frame; says which never did."""
    if len(played) == 1:
        if not played[0] and code in (0, 130, EXIT_TERMINATED):
            say(f"error: no frame was read from {sources[0]}", err=True)
            return 2 if code == 0 else code
        return code
    for i, (shown, gave_up) in enumerate(zip(played, failed)):
        if not shown and not gave_up:     # a failed one said why already
            say(f"[{i}] error: no frame was read from {sources[i]}", err=True)
    if code != 0:
        return code
    if all(played):
        return 0
    return 1 if any(played) else 2


def play(results: Stream, readout: Readout, options: HeadlessOptions, started: float,
         view: ViewServer | None = None) -> int:
    """Take results until every source ends or a limit is reached, printing a readout each second (and, with a
    browser view, publishing each drawn frame while a browser watches and the readout each second)."""
    next_tick = started + 1.0
    try:
        while True:
            now = time.monotonic()
            if options.max_seconds and now - started >= options.max_seconds:
                return 0
            try:
                result = results.poll(min(0.2, max(0.01, next_tick - now)))
            except CenterNetError as e:
                say(f"error: {e}", err=True)
                return 2
            except Exception as e:   # a model that fails on this input: one line, not a hang
                say(f"error: inference failed: {type(e).__name__}: {e}", err=True)
                return 1
            if result is not None:
                i = result.stream
                stats = readout.stats[i]
                # a stream that showed its --max-frames shows no more while the others go on
                if not (options.max_frames and stats.displayed >= options.max_frames):
                    stats.on_stream_result(result, results.inferences_of(i), results.skipped_of(i))
                    if view is not None and view.watched(i):
                        view.publish(i, draw_result(result, readout.detector.class_names,
                                                    trails=results.trails_of(i)))
                if options.max_frames and enough(results, readout, options):
                    return 0
            elif results.ended:
                return 0
            if time.monotonic() >= next_tick:
                next_tick += 1.0
                if view is not None:
                    view.update(results.statuses, readout.stats, readout.detector)
                readout.tick()
    except KeyboardInterrupt:   # Ctrl-C: the usual final line, then 130 (128 + SIGINT) as a shell expects
        return 130


def enough(results: Stream, readout: Readout, options: HeadlessOptions) -> bool:
    """--max-frames: every stream showed that many frames, or gives no more."""
    return all(stats.displayed >= options.max_frames or results.done(i)
               for i, stats in enumerate(readout.stats))

"""`main.py gui --headless`: the live pipeline (`centernet.live`) with no window and no Qt, printing the
window's readout once a second.

It runs where PyQt6 is not installed. Lines: `serving http://HOST:PORT/` first with --serve (the browser
view, app/web), `engine: ...` and `model: ...` once, `source: ...` when the
source opens, `status: ...` as it reconnects, a readout per second, and `final: ...` for the whole run
(fps counted since the first frame shown, stage medians over the run). Exit codes: 0; 2 when the source
or the model fails, or when no frame was ever read; 130 on Ctrl-C (after the final line).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from app.gui.stats import PipelineStats, device_description, memory_description
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

    source: str | None = None          # camera index, video file, folder, image or URL
    threshold: float | None = None     # drawing threshold (None: 0.3)
    max_seconds: float | None = None
    max_frames: int | None = None
    realtime: bool = True              # files at their frame rate (False: as fast as the model goes)
    loop: bool = False                 # loop video files
    hold_frames: bool = False          # show only the frames the model ran on
    track: bool = False                # track ids and trails
    smooth: bool | None = None         # One-Euro smoothing (None: on for pose models)
    motion: bool = True                # move the boxes of frames the model skipped along their tracks
    connect_timeout_s: float | None = DEFAULT_CONNECT_TIMEOUT_S   # give up on a source that never gave a frame
    verbose: bool = False              # keep FFmpeg's / OpenCV's own log lines
    serve: tuple[str, int] | None = None   # (host, port) of the browser view (app/web); None: no view


class Readout:
    """Prints the per-second and the final lines."""

    def __init__(self, detector, out):
        self.stats = PipelineStats()
        self.detector = detector
        self.device = device_description(detector.device)
        self.out = out

    def line(self, whole_run: bool = False) -> str:
        return self.stats.readout(self.device, memory_description(self.detector.device), whole_run=whole_run)


def say(text: str, out=sys.stdout, err: bool = False) -> None:
    print(text, file=sys.stderr if err else out, flush=True)


def stream_options(options: HeadlessOptions, task: str) -> StreamOptions:
    smooth = options.smooth if options.smooth is not None else smoothing_default(task)
    return StreamOptions(realtime=options.realtime, hold=options.hold_frames, loop=options.loop,
                         threshold=0.3 if options.threshold is None else float(options.threshold),
                         tracking=LiveTrackingOptions(track=options.track, smooth=smooth), motion=options.motion,
                         connect_timeout_s=options.connect_timeout_s)


def run_headless(options: HeadlessOptions, config: DetectorConfig | None, out=sys.stdout) -> int:
    """Returns the process exit code (see the module docstring)."""
    if options.source is None:
        say("error: --headless needs --source (a camera index, video file, folder, image or URL)", err=True)
        return 2
    view = None
    try:
        check_source(options.source)      # a missing file (or a port in use) fails before a model is loaded
        if options.serve is not None:
            view = ViewServer(options.serve, [options.source])
            say(f"serving {view.url}", out)
        detector = Detector.from_config(config or DetectorConfig())
    except CenterNetError as e:
        if view is not None:
            view.close()
        say(f"error: {e}", err=True)
        return 2
    say(f"engine: {detector.engine_summary}", out)
    say(f"model: {detector.info.describe()} on {detector.device}, input {detector.spec.input_size}", out)
    readout = Readout(detector, out)
    started = time.monotonic()

    def on_event(event: StreamEvent) -> None:
        say(event.message if event.kind == "opened" else f"status: {event.message}", out)

    results = Stream(options.source, detector, stream_options(options, detector.info.task), on_event,
                     verbose=options.verbose)
    code = play(results, readout, options, started, view)
    stopped = results.close(timeout_s=2.0)
    if view is not None:
        view.close()
    if readout.stats.displayed:
        say("final: " + readout.line(whole_run=True), out)
    elif code == 0 or code == 130:
        say(f"error: no frame was read from {options.source}", err=True)
        code = 2 if code == 0 else code
    if not stopped:
        # a thread stuck opening a URL (FFmpeg's open cannot be interrupted) must not hold the exit past
        # --max-seconds, and tearing the interpreter down under it aborts the process: leave at once
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def play(results: Stream, readout: Readout, options: HeadlessOptions, started: float,
         view: ViewServer | None = None) -> int:
    """Take results until the source ends or a limit is reached, printing a readout each second (and, with a
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
                readout.stats.on_stream_result(result, results.inferences, results.skipped)
                if view is not None and view.watched(result.stream):
                    view.publish(result.stream, draw_result(result, readout.detector.class_names,
                                                            trails=results.trails))
                if options.max_frames and readout.stats.displayed >= options.max_frames:
                    return 0
            elif results.ended:
                return 0
            if time.monotonic() >= next_tick:
                next_tick += 1.0
                if view is not None:
                    view.update(results.states, [readout.stats], readout.detector)
                if readout.stats.displayed:
                    say(readout.line(), readout.out)
    except KeyboardInterrupt:   # Ctrl-C: the usual final line, then 130 (128 + SIGINT) as a shell expects
        return 130

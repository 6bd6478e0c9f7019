"""`main.py gui --headless`: the window's pipeline with no window, printing the live readout once a second."""
from __future__ import annotations

import signal
import sys
import time

from contextlib import contextmanager
from dataclasses import dataclass, replace

from PyQt6.QtCore import QCoreApplication, QTimer

from app.gui.inference_worker import with_threshold
from app.gui.pipeline import Pipeline
from centernet.inference.config import DetectorConfig
from app.gui.stats import PipelineStats, device_description, memory_description
from centernet.io.sources import source_kind
from centernet.tracking.live import smoothing_default


class HeadlessRun:
    """Opens the source once the model is ready, prints a readout per second, stops at a limit."""

    def __init__(self, pipeline: Pipeline, request, source, threshold: float | None = None,
                 max_seconds: float | None = None, max_frames: int | None = None, out=sys.stdout,
                 track: bool = False, smooth: bool | None = None):
        self.pipeline = pipeline
        self.source = source
        self.max_seconds = max_seconds
        self.max_frames = max_frames
        self.out = out
        self.stats = PipelineStats()
        self.exit_code = 0
        self.started = None
        self.device = ""
        self.track, self.smooth = track, smooth
        if threshold is not None:
            pipeline.worker.set_options(with_threshold(pipeline.worker.options, threshold))
        pipeline.result_ready.connect(self._on_result)
        pipeline.source_failed.connect(lambda m: self._fail(m))
        pipeline.model_failed.connect(lambda m: self._fail(m))
        pipeline.error.connect(lambda m: self._say(f"error: {m}", err=True))
        pipeline.status.connect(lambda m: self._say(f"status: {m}"))
        pipeline.source_opened.connect(lambda info: self._say(f"source: {info.describe()}"))
        pipeline.model_loaded.connect(self._on_model)
        pipeline.ended.connect(self._finish)
        self.timer = QTimer()
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        if request is None:
            self._start_source()
        else:
            pipeline.load_model(request)

    def _say(self, text: str, err: bool = False) -> None:
        print(text, file=sys.stderr if err else self.out, flush=True)

    def _fail(self, message: str) -> None:
        self._say(f"error: {message}", err=True)
        self.exit_code = 2
        self._quit()

    def _on_model(self, detector) -> None:
        self.device = device_description(detector.device)
        smooth = self.smooth if self.smooth is not None else smoothing_default(detector.info.task)
        options = self.pipeline.worker.options
        self.pipeline.worker.set_options(replace(options, tracking=replace(options.tracking, track=self.track,
                                                                           smooth=smooth)))
        self._say(f"model: {detector.info.describe()} on {detector.device}, input {detector.spec.input_size}")
        self._say(f"engine: {detector.engine_summary}")
        self._start_source()

    def _start_source(self) -> None:
        self.started = time.monotonic()
        self.timer.start()
        self.pipeline.open_source(self.source)

    def _on_result(self, result) -> None:
        self.stats.on_result(result)
        if self.max_frames and self.stats.displayed >= self.max_frames:
            self._finish()

    def _tick(self) -> None:
        detector = self.pipeline.worker.detector
        self._say(self.stats.readout(self.device, memory_description(detector.device if detector else None)))
        if self.max_seconds and time.monotonic() - self.started >= self.max_seconds:
            self._finish()

    def _finish(self) -> None:
        if self.timer.isActive():
            self._tick_final()
        self._quit()

    def _tick_final(self) -> None:
        self.timer.stop()
        detector = self.pipeline.worker.detector
        memory = memory_description(detector.device if detector else None)
        self._say("final: " + self.stats.readout(self.device, memory))

    def _quit(self) -> None:
        self.timer.stop()
        QTimer.singleShot(0, QCoreApplication.instance().quit)

    def interrupt(self) -> None:
        """Ctrl-C: the usual final readout, then exit 130 (128 + SIGINT) as a shell expects."""
        if self.exit_code == 0:
            self.exit_code = 130
        self._finish()


@contextmanager
def stop_on_sigint(run: HeadlessRun):
    """Route Ctrl-C to `run.interrupt()` instead of a KeyboardInterrupt raised inside a Qt slot (which
    Qt turns into an abort). Python runs its signal handlers only between bytecodes, and Qt's event
    loop is C++, so a short timer hands control to Python a few times a second."""
    previous = signal.signal(signal.SIGINT, lambda *_: run.interrupt())
    wake = QTimer()
    wake.setInterval(200)
    wake.timeout.connect(lambda: None)
    wake.start()
    try:
        yield
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class HeadlessOptions:
    """What `gui --headless` plays and when it stops."""

    source: str | None = None          # camera index, video file, folder, image or URL
    threshold: float | None = None     # drawing threshold (None: the worker's default)
    max_seconds: float | None = None
    max_frames: int | None = None
    realtime: bool = True              # files at their frame rate (False: as fast as the model goes)
    loop: bool = False                 # loop video files
    hold_frames: bool = False          # show only the frames the model ran on
    track: bool = False                # track ids and trails
    smooth: bool | None = None         # One-Euro smoothing (None: on for pose models)


def run_headless(options: HeadlessOptions, config: DetectorConfig | None) -> int:
    """Returns the process exit code: 0, or 2 when the source or the model fails (the message is printed)."""
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    if options.source is None:
        print("error: --headless needs --source (a camera index, video file, folder, image or URL)", file=sys.stderr)
        return 2
    from pathlib import Path

    if source_kind(options.source) in ("video", "image") and not Path(options.source).is_file():
        print(f"error: input not found: {options.source} (check the path)", file=sys.stderr)   # before loading a model
        return 2
    pipeline = Pipeline()
    pipeline.set_hold(options.hold_frames)
    pipeline.set_realtime(options.realtime)
    pipeline.set_loop(options.loop)
    run = HeadlessRun(pipeline, config, options.source, threshold=options.threshold,
                      max_seconds=options.max_seconds, max_frames=options.max_frames, track=options.track,
                      smooth=options.smooth)
    with stop_on_sigint(run):
        app.exec()
    pipeline.shutdown(timeout_ms=2000)
    return run.exit_code

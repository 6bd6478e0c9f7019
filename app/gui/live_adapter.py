"""The window's pipeline: a thin Qt adapter over `centernet.live.Stream`.

The library runs the capture and model threads; a presenter thread here takes each `StreamResult`
(`Stream.poll`), draws it with the one renderer (plus the heatmap and track trails), records it, makes the
BGRA copy Qt paints, and publishes it latest-wins: at most one `result_ready` signal is in flight to the
GUI thread, which takes the newest `Shown` (so a busy GUI never builds a queue, and never waits for the
model). Source events come back as signals; checkpoints load in a `ModelLoader` thread. Each `Shown`
carries its `StreamResult` whole, `stream` index included.

Threads other than the GUI thread (the stream's capture threads, the presenter) emit only through
`LivePipeline._send`, which does nothing once `shutdown` ran: a thread that outlived the shutdown's join (a URL's
open or read under way, a slow drawing) must not emit into the QObject Qt deletes with the window.

Several sources (`open_sources`) run as one `Stream` (one model): each stream has its own drawing options
(`set_options(draw, stream=i)`) and recorder, and its own latest-wins slot, so a busy stream never hides
another's frames from the window's grid.

What the library fixes when a stream starts (real time, hold frames) restarts the stream where it was;
the end of a file pauses on its last frame, and play (or step, or seek) starts it again.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import cv2
import numpy as np
from PyQt6.QtCore import QCoreApplication, QObject, QThread, pyqtSignal

from app.gui.heatmap import HeatmapTap, heat_to_image
from centernet.errors import CenterNetError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.io.render import RenderOptions, draw_heatmap, draw_trails, visible
from centernet.live import SourceInfo, StreamEvent, StreamOptions, StreamResult, draw_result
from centernet.live.model import MODEL_WORKERS
from centernet.live.stream import Stream
from centernet.tracking.live import LiveTrackingOptions

# threads that missed a shutdown deadline (a forward pass cannot be interrupted): kept referenced until they
# end, so Qt never destroys a running QThread
_STRAGGLERS: list[QThread] = []


def _keep_until_finished(thread: QThread) -> None:
    if thread.isRunning():
        _STRAGGLERS.append(thread)
        thread.finished.connect(lambda t=thread: _STRAGGLERS.remove(t) if t in _STRAGGLERS else None)


def join_stragglers(timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    for thread in list(_STRAGGLERS):
        thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))


atexit.register(join_stragglers)


@dataclass(frozen=True)
class DrawOptions:
    """What the window shows: the renderer's options, the heatmap, tracking (ids, trails, smoothing) and the
    motion step (boxes of frames the model skipped moved by their optical flow)."""

    render: RenderOptions = RenderOptions()
    heatmap: bool = False
    tracking: LiveTrackingOptions = LiveTrackingOptions()
    motion: bool = True


@dataclass(frozen=True)
class ShownFrame:
    """The frame of a `Shown`, as the readout and the tests read it."""

    index: int
    image: np.ndarray        # BGR, not drawn on
    timestamp_ms: float
    captured_at: float       # perf_counter when the capture had it
    frame_count: int | None
    skipped: int             # frames that failed to decode so far
    is_live: bool


@dataclass
class Shown:
    """One frame for the screen: the library's `StreamResult` whole, drawn."""

    seq: int
    result: StreamResult
    frame: ShownFrame
    image: np.ndarray        # BGR with overlays
    display: np.ndarray      # BGRA copy of `image`: what the GUI thread paints
    shown: int               # detections drawn
    boxes_drawn: list        # (x1, y1, x2, y2, label, score) of the drawn detections
    timings: dict            # the result's stage times and "render"
    inferences: int          # model runs so far
    started_at: float        # perf_counter when the presenter took the result
    done_at: float           # ... when it was drawn
    trails: dict = field(default_factory=dict)   # track id -> recent centres drawn

    @property
    def dets(self):
        """The detections on this frame; None before the model's first run (or with no model)."""
        return self.result.detections if self.result.overlay_age_ms is not None else None

    @property
    def inferred(self) -> bool:
        return self.result.inferred

    @property
    def overlay_age_ms(self) -> float | None:
        return self.result.overlay_age_ms

    @property
    def dropped(self) -> int:
        return self.result.dropped

    @property
    def inferred_at(self) -> float:
        return self.done_at if self.result.inferred else 0.0


def load_detector(config: DetectorConfig) -> Detector:
    return Detector.from_config(config)


class ModelLoader(threading.Thread):
    """Loads a checkpoint off the GUI thread; hands the Detector, or the library's message, to its callbacks.

    A Python thread, not a QThread: a thread Python did not start (a QThread's `run`) drops its thread state in
    `PyGILState_Release`, and on Python 3.11 a destructor that this teardown runs and that takes the GIL again (an
    OpenVINO infer request the engine kept for the thread, made while `--engine auto` timed the engines here)
    crashed the process with SIGSEGV (cpython gh-119585, fixed in 3.12). A thread Python started ends safely."""

    def __init__(self, request: DetectorConfig, on_loaded: Callable[[object, DetectorConfig], None],
                 on_failed: Callable[[str, DetectorConfig], None]):
        super().__init__(name="model-loader", daemon=True)
        self.request = request
        self.on_loaded = on_loaded
        self.on_failed = on_failed

    def run(self) -> None:
        try:
            detector = load_detector(self.request)
        except CenterNetError as e:
            self.on_failed(str(e), self.request)
        except Exception as e:  # a broken file can make torch raise anything: a message, not a crash
            traceback.print_exc()
            self.on_failed(f"cannot load {self.request.weights or 'the default model'}: not a checkpoint this "
                           f"version can read ({type(e).__name__}: {e})", self.request)
        else:
            self.on_loaded(detector, self.request)


class TappedDetector:
    """The detector the stream runs, keeping the centre heatmaps of each stream's newest runs for the streams whose
    heatmap is shown (`wanted`). `locate(image)` says whose frame a run is on (`Stream.stream_inferring`): with
    several streams, and two model workers, runs of different streams may be under way at once; as fast as the
    model goes two runs of one stream are, and the later frame's may end first: a result is drawn with the
    heatmap of its own frame where one was kept (`heat_of(stream, image)`)."""

    def __init__(self, detector, tap: HeatmapTap):
        self.detector = detector
        self.tap = tap
        self.wanted: frozenset[int] = frozenset()
        self.locate: Callable[[np.ndarray], int | None] | None = None
        self.heats: dict[int, list] = {}    # stream -> (frame, heatmap) of its newest runs, the newest last

    def want(self, streams) -> None:
        """Keep the heatmaps of these streams' runs from now on (and forget the others')."""
        self.wanted = frozenset(streams)
        for stream in set(self.heats) - self.wanted:
            self.heats.pop(stream, None)

    def heat_of(self, stream: int, image: np.ndarray | None = None) -> np.ndarray | None:
        """The heatmap of the run on `image` (the very array) when one is kept, else of the stream's newest run."""
        kept = self.heats.get(stream) or [(None, None)]
        return next((heat for frame, heat in kept if frame is image and image is not None), kept[-1][1])

    def _wanted_stream(self, image) -> int | None:
        if not self.wanted or self.locate is None:
            return None
        stream = self.locate(image)
        return stream if stream in self.wanted else None

    def __call__(self, image):
        stream = self._wanted_stream(image)
        if stream is None:
            return self.detector(image)
        dets, heat = self.tap.run(self.detector, image)
        self._keep(stream, image, heat)
        return dets

    def _keep(self, stream: int, image: np.ndarray, heat) -> None:
        if stream in self.wanted:     # the selection may have moved on during the run
            self.heats[stream] = [*self.heats.get(stream, [])[1 - MODEL_WORKERS:], (image, heat)]

    def detect_batch(self, images):
        """A batch of several streams' frames (a padded batch repeats the last frame: its heatmap is kept once)."""
        streams = [self._wanted_stream(image) for image in images]
        if not any(s is not None for s in streams):
            return self.detector.detect_batch(images)
        first = {s: i for i, s in reversed(list(enumerate(streams))) if s is not None}
        wanted = [first.get(s) == i for i, s in enumerate(streams)]
        out, heats = self.tap.run_batch(self.detector.detect_batch, self.detector, images, wanted)
        for stream, i in first.items():
            self._keep(stream, images[i], heats[i])
        return out

    def __getattr__(self, name):
        return getattr(self.detector, name)


def for_display(image: np.ndarray) -> np.ndarray:
    """BGRA copy of a BGR frame: QImage's RGB32 byte order, which Qt paints (and scales) with no conversion.

    Done in the presenter, off the GUI thread (measured at 1080p: painting BGR888 cost 6.8 ms a frame in the
    GUI thread, RGB32 2.6 ms)."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)


def render(result: StreamResult, detector, options: DrawOptions, heat: np.ndarray | None,
           trails: dict | None) -> tuple[np.ndarray, int, list]:
    """The one renderer's picture of a result: (image, number drawn, drawn boxes)."""
    image = result.image
    if heat is not None and detector is not None:
        image = draw_heatmap(image, heat, heat_to_image(detector, image.shape[:2], heat.shape))
    if detector is None or result.overlay_age_ms is None:
        return (image if image is not result.image else image.copy()), 0, []
    opts = options.render
    shown = visible(result.detections, opts)
    out = draw_result(replace(result, image=image, detections=shown), detector.class_names, opts, None,
                      getattr(detector, "camera", None))
    if trails and options.tracking.track:
        out = draw_trails(out, trails, opts)
    d = shown.numpy()
    drawn = [(*map(float, d["boxes"][i]), int(d["labels"][i]), float(d["scores"][i])) for i in range(len(shown))]
    return out, len(shown), drawn


def stream_options(draw: DrawOptions, realtime: bool, hold: bool, loop: bool,
                   connect_timeout_s: float | None = None) -> StreamOptions:
    """The window's stream: by default a stream that does not answer is retried until another source is opened
    (a grid gives up on one after `connect_timeout_s`, so the others go on and its tile says failed)."""
    return StreamOptions(realtime=realtime, hold=hold, loop=loop, threshold=float(draw.render.threshold),
                         classes=draw.render.classes, tracking=draw.tracking, motion=draw.motion,
                         connect_timeout_s=connect_timeout_s)


class Presenter(threading.Thread):
    """Takes a stream's results, draws and publishes them; `refresh()` draws the newest one again."""

    def __init__(self, pipeline: "LivePipeline", stream: Stream, generation: int):
        super().__init__(name="presenter", daemon=True)
        self.pipeline = pipeline
        self.stream = stream
        self.generation = generation
        self.stop_event = threading.Event()
        self.redraw = threading.Event()
        self.rerun = threading.Event()     # run the model again on the newest result's frame, once it can
        self._reruns: set[int] = set()     # ... of these streams
        self._lock = threading.Lock()
        self.busy = False
        self.presented = 0                 # results of the stream drawn and published (redraws not counted)
        self.last: StreamResult | None = None
        self.lasts: dict[int, StreamResult] = {}   # each stream's newest result (what a redraw draws again)

    def request_rerun(self, streams) -> None:
        with self._lock:
            self._reruns |= set(streams)
        self.rerun.set()

    def _rerun_some(self) -> bool:
        """Ask the stream to run the model again where asked; True when some run was started."""
        with self._lock:
            todo = set(self._reruns)
        done = {i for i in todo if self.stream.rerun(i)}
        with self._lock:
            self._reruns -= done
            if not self._reruns:
                self.rerun.clear()
        return bool(done)

    def run(self) -> None:
        p, stream = self.pipeline, self.stream
        ended = False
        while not self.stop_event.is_set():
            try:
                result = stream.poll(0.05)
            except CenterNetError as e:
                p._send("_from_presenter", "failed", str(e), self.generation)
                return
            except Exception as e:     # a model that fails on this input: a message, the stream ends
                traceback.print_exc(file=sys.stderr)
                p._send("_from_presenter", "error", f"inference failed: {type(e).__name__}: {e}", self.generation)
                return
            if result is None:
                if stream.ended:      # said once; the last frame can still be drawn again (a toggle)
                    if not ended:
                        ended = True
                        p._send("_from_presenter", "ended", "", self.generation)
                    if not self.redraw.wait(0.1):
                        continue
                if self.rerun.is_set() and self._rerun_some():
                    continue                  # its result comes from the next poll
                if not self.redraw.is_set() or not self.lasts:
                    continue
                results, fresh = list(self.lasts.values()), False
            else:
                results, fresh = [result], True
            if not fresh:   # a fresh result is one stream's: a redraw asked for the others waits for the next gap
                self.redraw.clear()
            self.busy = True
            try:
                for result in results:
                    if fresh:
                        self.last = self.lasts[result.stream] = result
                    p._present(self, result)
            except Exception as e:   # a bug in drawing or recording: report, keep going
                traceback.print_exc(file=sys.stderr)
                p._send("_from_presenter", "error", f"drawing failed: {type(e).__name__}: {e}", self.generation)
            finally:
                self.presented += fresh
                self.busy = False


class LivePipeline(QObject):
    """The window's pipeline (see the module docstring). Lives in the GUI thread."""

    result_ready = pyqtSignal(object)      # Shown, the newest only
    source_opened = pyqtSignal(object)     # SourceInfo
    source_failed = pyqtSignal(str)
    status = pyqtSignal(str)
    reconnected = pyqtSignal()
    ended = pyqtSignal()
    paused_changed = pyqtSignal(bool)
    model_loading = pyqtSignal(object)     # DetectorConfig
    model_loaded = pyqtSignal(object)      # Detector
    model_failed = pyqtSignal(str)
    error = pyqtSignal(str)
    stream_status = pyqtSignal(int, str, str)      # several sources: stream, event kind, message (its tile says it)
    _from_presenter = pyqtSignal(str, str, int)    # kind, message, generation
    _event = pyqtSignal(object, int)               # StreamEvent, generation
    _ready = pyqtSignal()                          # a Shown is waiting (at most one signal in flight)
    _loaded = pyqtSignal(object, object)           # Detector, DetectorConfig (from a ModelLoader)
    _load_failed = pyqtSignal(str, object)         # message, DetectorConfig

    def __init__(self, parent=None):
        super().__init__(parent)
        cv2.setNumThreads(1)   # the pipeline's threads on a few cores: OpenCV's own pool only fought them
        self._from_presenter.connect(self._on_presenter)
        self._event.connect(self._on_event)
        self._ready.connect(self._on_ready)
        self._loaded.connect(self._on_model_loaded)
        self._load_failed.connect(self._on_model_failed)
        self.tap = HeatmapTap()
        self.detector = None                # the detector as loaded (the stream runs it tapped)
        self._tapped: TappedDetector | None = None
        self.draw = DrawOptions()
        self.realtime, self.hold, self.loop = True, False, False
        self.stream_draws: dict[int, DrawOptions] = {}    # several sources: a stream's own options
        self.connect_timeout_s: float | None = None       # None: a source that never answered is retried on
        self.source_spec: str | None = None
        self.source_specs: list[str] = []
        self.source_info: SourceInfo | None = None
        self.stream: Stream | None = None
        self.presenter: Presenter | None = None
        self.recorders: dict[int, object] = {}           # stream -> its recorder
        self._paused = False
        self._at_end = False
        self._generation = 0
        self._seq = 0
        self._outs: dict[int, Shown] = {}     # each stream's newest unseen Shown
        self._out_pending = False
        # guards the results above and `_closed` for the threads' emits (reentrant: an emit from the GUI thread
        # is a direct call of its slot)
        self._lock = threading.RLock()
        self._loaders: list[ModelLoader] = []
        self._wanted_model: DetectorConfig | None = None
        self.model_request: DetectorConfig | None = None
        self._closed = False
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- sources ------------------------------------------------------------------------------------
    def open_source(self, spec) -> None:
        """Start reading `spec` (camera index, file, folder, image or URL); errors come as source_failed."""
        self.open_sources([spec])

    def open_sources(self, specs, draws: Sequence[DrawOptions] = ()) -> None:
        """Start reading every spec through one `Stream` (one model); results carry their stream's index.
        `draws`: each stream's own options from its first frame (none: every stream's are `options`)."""
        self.source_specs = [str(spec) for spec in specs]
        self.source_spec = self.source_specs[0]
        self.source_info = None
        if draws:   # the Stream starts with the first stream's (`_start` gives each its own at once)
            self.draw = draws[0]
        self.stream_draws = dict(enumerate(draws))
        self._want_heat()
        self._start(0, paused=False)

    @property
    def multi(self) -> bool:
        return len(self.source_specs) > 1

    def draw_of(self, stream: int) -> DrawOptions:
        return self.stream_draws.get(stream, self.draw)

    def _want_heat(self) -> None:
        """The model's tap keeps the heatmaps of the streams that show theirs."""
        if self._tapped is not None:
            self._tapped.want(i for i in range(max(1, len(self.source_specs))) if self.draw_of(i).heatmap)

    def _tapped_locates(self, stream: Stream | None) -> None:
        if self._tapped is not None:
            self._tapped.locate = stream.stream_inferring if stream is not None else None

    def _options(self, draw: DrawOptions | None = None) -> StreamOptions:
        # with no model yet every frame is shown: hold and as-fast-as-the-model have no model to follow
        model = self._tapped is not None
        return stream_options(draw or self.draw, self.realtime or not model, self.hold and model, self.loop,
                              self.connect_timeout_s)

    def _start(self, start_at: int | list[int], paused: bool) -> None:
        """A new stream on the current sources from frame `start_at` (or each from its own; the previous one
        stopped)."""
        self._stop_stream(timeout_s=1.0)
        self._tapped_locates(None)
        self._generation += 1
        self._at_end = False
        generation = self._generation
        try:
            self.stream = Stream(self.source_specs if self.multi else self.source_spec, self._tapped, self._options(),
                                 on_event=lambda e: self._send("_event", e, generation), start_at=start_at,
                                 paused=paused)
        except CenterNetError as e:
            self.source_failed.emit(str(e))
            return
        self._tapped_locates(self.stream)
        for i, draw in self.stream_draws.items():
            self.stream.set_options(self._options(draw), stream=i)
        self.presenter = Presenter(self, self.stream, generation)
        self.presenter.start()
        self._set_paused_flag(paused)

    def _restart_here(self) -> None:
        """Options fixed at a stream's start changed: every stream again from the frame after the one it shows."""
        if self.stream is None or self.source_spec is None:
            return
        self._start([shown + 1 if shown is not None else 0 for shown in self._shown_positions()], self._paused)

    def _shown_positions(self) -> list[int | None]:
        """Each stream's frame on screen where its source can seek back to it (a file, a folder), else None."""
        lasts = dict(self.presenter.lasts) if self.presenter is not None else {}
        infos = self.stream.infos if self.stream is not None else []
        return [lasts[i].frame_index if i in lasts and i < len(infos) and infos[i] is not None
                and infos[i].seekable else None for i in range(len(self.source_specs))]

    def _stop_stream(self, timeout_s: float) -> bool:
        stream, presenter = self.stream, self.presenter
        self.stream = self.presenter = None
        ok = True
        if presenter is not None:
            presenter.stop_event.set()
        if stream is not None:
            ok = stream.close(timeout_s)
        if presenter is not None and presenter is not threading.current_thread():
            presenter.join(max(0.1, timeout_s))
            ok = ok and not presenter.is_alive()
        return ok

    def close_source(self) -> None:
        self._stop_stream(timeout_s=1.0)
        self.source_info = None

    def _on_event(self, event: StreamEvent, generation: int) -> None:
        if generation != self._generation:
            return
        if self.multi:
            self.stream_status.emit(event.stream, event.kind, event.message)
            if event.kind == "opened" and event.stream == 0:
                self.source_info = event.info
                self.source_opened.emit(event.info)
        elif event.kind == "opened":
            self.source_info = event.info
            self.source_opened.emit(event.info)
        else:
            self.status.emit(event.message)
            if event.message.startswith("reconnected"):
                self.reconnected.emit()

    def _on_presenter(self, kind: str, message: str, generation: int) -> None:
        if generation != self._generation:
            return
        if kind == "failed":
            self.source_failed.emit(message)
        elif kind == "error":
            self.error.emit(message)
        elif kind == "ended":
            self._at_end = True
            what = self.source_info.kind if self.source_info is not None else "video"
            self.status.emit(f"end of {what}: press play to start again")
            self._set_paused_flag(True)
            self.ended.emit()

    # ---- playback -----------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def _set_paused_flag(self, paused: bool) -> None:
        changed = paused != self._paused
        self._paused = paused
        if changed:
            self.paused_changed.emit(paused)

    def set_paused(self, paused: bool) -> None:
        if self.stream is None and not self._at_end:
            return
        if self._at_end:
            if not paused:      # play at the end: start again
                self._start(0, paused=False)
            return
        self.stream.set_paused(paused)
        self._set_paused_flag(paused)

    def step(self) -> None:
        if self._at_end:
            self._start(0, paused=True)
        if self.stream is not None:
            self.stream.step()
            self._set_paused_flag(True)

    def seek(self, index: int, stream: int | None = None) -> None:
        """Frame `index` of stream `stream` (None: of every stream); the others go on where they are."""
        if self._at_end:    # every stream ended: start again, paused, the others on the frames they show
            shown = self._shown_positions()
            self._start([int(index) if stream in (None, i) else at or 0 for i, at in enumerate(shown)], paused=True)
            if self.stream is not None:
                self.stream.step()
        elif self.stream is not None:
            self.stream.seek(index, stream=stream)
            if self._paused:
                self.stream.step(stream=stream)    # paused: show the frame sought

    def set_loop(self, loop: bool) -> None:
        self.loop = loop
        if self.stream is not None:
            self.stream.set_options(replace(self.stream.options, loop=loop))

    def set_realtime(self, realtime: bool) -> None:
        if realtime != self.realtime:
            self.realtime = realtime
            self._restart_here()

    def set_hold(self, hold: bool) -> None:
        """Hold frames: show only the frames the model ran on, each with its own detections."""
        if hold != self.hold:
            self.hold = hold
            self._restart_here()

    def set_options(self, draw: DrawOptions, stream: int | None = None) -> None:
        """The window's toggles: the stream's options (threshold, classes, tracking, motion) and the drawing;
        `stream` i: that stream's only (several sources), None: every stream's."""
        if stream is None:
            previous, self.draw = self.draw, draw
            self.stream_draws = {}
        else:
            previous, self.stream_draws[stream] = self.draw_of(stream), draw
        self._want_heat()
        running = self.stream
        if running is None:
            return
        wanted, previous_options = self._options(draw), running.options_of(stream or 0)
        if wanted != previous_options or stream is None:
            running.set_options(wanted, stream=stream)
        if self._paused or self._at_end:   # redraw the frame on screen now
            # the model again for what the last run left out or did not compute; a higher threshold only redraws
            model = (wanted.threshold < previous_options.threshold or (draw.heatmap and not previous.heatmap)
                     or replace(wanted, threshold=0.0) != replace(previous_options, threshold=0.0))
            if model and self._tapped is not None:
                self.presenter.request_rerun(range(len(running.states)) if stream is None else [stream])
            else:
                self.presenter.redraw.set()

    @property
    def options(self) -> DrawOptions:
        return self.draw

    @property
    def show_all(self) -> bool:
        """Every frame at the source's rate with the newest detections (else only the frames the model ran on)."""
        return self.stream.options.show_every_frame if self.stream is not None else self.realtime and not self.hold

    def set_recorder(self, recorder, stream: int = 0) -> None:
        """Record stream `stream`'s drawn frames (None: stop recording it)."""
        if recorder is None:
            self.recorders.pop(stream, None)
        else:
            self.recorders[stream] = recorder

    @property
    def recorder(self):
        return self.recorders.get(0)

    # ---- model --------------------------------------------------------------------------------------
    def load_model(self, request: DetectorConfig) -> None:
        """Load in the background; the newest request wins. Frames keep flowing meanwhile."""
        self._wanted_model = request
        loader = ModelLoader(request, lambda *loaded: self._send("_loaded", *loaded),
                             lambda *failed: self._send("_load_failed", *failed))
        self._loaders = [*(running for running in self._loaders if running.is_alive()), loader]
        self.model_loading.emit(request)
        loader.start()

    def set_detector(self, detector) -> None:
        """Run `detector` from the next frame on (a slow or scripted stand-in too)."""
        had = self._tapped is not None
        self.tap.detach()
        self.detector = detector
        self._tapped = TappedDetector(detector, self.tap) if detector is not None else None
        if detector is not None:
            self.tap.attach(detector)
        self._want_heat()
        if self.stream is None:
            return
        self._tapped_locates(self.stream)
        if had != (self._tapped is not None) and self._options() != self.stream.options:
            self._restart_here()          # hold or as-fast-as-the-model waited for a model
            return
        self.stream.set_detector(self._tapped)
        if self._paused and self.presenter is not None:
            self.presenter.request_rerun(range(len(self.stream.states)))

    def _on_model_loaded(self, detector, request) -> None:
        if request is not self._wanted_model or self._closed:
            return
        self.model_request = request
        self.set_detector(detector)
        self.model_loaded.emit(detector)

    def _on_model_failed(self, message: str, request) -> None:
        if request is self._wanted_model and not self._closed:
            self.model_failed.emit(message)

    @property
    def loading(self) -> bool:
        return any(loader.is_alive() for loader in self._loaders)

    # ---- results (presenter thread, then the GUI thread) --------------------------------------------
    def _present(self, presenter: Presenter, result: StreamResult) -> None:
        started = time.perf_counter()
        stream, i = presenter.stream, result.stream
        tapped = stream.detector
        detector = tapped.detector if isinstance(tapped, TappedDetector) else tapped
        draw = self.draw_of(i)
        heat = tapped.heat_of(i, result.image) if draw.heatmap and isinstance(tapped, TappedDetector) else None
        trails = stream.trails_of(i) if draw.tracking.track else {}
        image, shown, drawn = render(result, detector, draw, heat, trails)
        recorder = self.recorders.get(i)
        if recorder is not None:
            try:
                recorder.write(image, result.frame_index)
            except Exception as e:
                self.recorders.pop(i, None)
                self._send("_from_presenter", "error", f"recording stopped: {e}", presenter.generation)
        display = for_display(image)
        done = time.perf_counter()
        timings = dict(result.timings, render=(done - started) * 1000.0)
        info = stream.infos[i]
        frame = ShownFrame(result.frame_index, result.image, result.timestamp_ms,
                           started - result.timings.get("end_to_end", 0.0) / 1000.0,
                           info.frame_count if info is not None else None, stream.skipped_of(i),
                           bool(info is not None and info.is_live))
        inferences = stream.inferences_of(i)
        with self._lock:
            if presenter.generation != self._generation or self._closed:
                return
            self._seq += 1
            out = Shown(self._seq, result, frame, image, display, shown, drawn, timings, inferences,
                        started, done, trails if draw.tracking.track else {})
            self._outs[i] = out
            if not self._out_pending:
                self._out_pending = True
                self._ready.emit()

    def _send(self, signal: str, *args) -> None:
        """Emit signal `signal` from a thread other than the GUI thread, unless the pipeline shut down. Under the
        lock `shutdown` takes, so no emit is under way when it returns and none starts after: the QObject may go
        then (with its window) while a straggler still runs."""
        with self._lock:
            if not self._closed:
                getattr(self, signal).emit(*args)

    def _on_ready(self) -> None:
        for result in self.take_results():
            self.result_ready.emit(result)

    def take_results(self) -> list[Shown]:
        """Each stream's newest unseen result, in stream order (GUI thread)."""
        with self._lock:
            outs, self._outs = self._outs, {}
            self._out_pending = False
        return [outs[i] for i in sorted(outs)]

    def take_result(self) -> Shown | None:
        """The newest unseen result (GUI thread), or None."""
        results = self.take_results()
        return max(results, key=lambda r: r.seq) if results else None

    def runs_at_once(self) -> int:
        """Model runs made at once now (see `Stream.runs_at_once`); 1 with no stream."""
        stream = self.stream
        return stream.runs_at_once if stream is not None else 1

    def statuses(self) -> list:
        """Each stream's `StreamStatus` (playing, reconnecting, failed, ...); empty with no stream."""
        stream = self.stream
        return stream.statuses if stream is not None else []

    @property
    def published(self) -> int:
        return self._seq

    @property
    def received(self) -> int:
        """Frames the sources gave so far."""
        return sum(s.frames_read for s in self.stream.states) if self.stream is not None else 0

    @property
    def inferred(self) -> int:
        """Model runs so far."""
        return self.stream.inferences if self.stream is not None else 0

    @property
    def dropped(self) -> int:
        """Frames never shown so far."""
        last = self.presenter.last if self.presenter is not None else None
        return last.dropped if last is not None else 0

    def idle(self) -> bool:
        """Nothing waiting and nothing being drawn (paused, at the end, or between frames)."""
        stream, presenter = self.stream, self.presenter
        if stream is None or presenter is None:
            return True
        with stream.cond:
            # no model: nothing takes a stream's frames for the model
            waiting = any(not state.display.empty or (stream.detector is not None and not state.model_idle)
                          or (state.runs > state.runs_taken and not stream.options.show_every_frame)
                          for state in stream.states)
            taken = stream.taken     # a result taken but not drawn yet: the presenter is about to be busy
        return (not waiting and taken == presenter.presented and not presenter.busy and not presenter.redraw.is_set()
                and not presenter.rerun.is_set() and not self._out_pending)

    # ---- shutdown -----------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop every thread and release the source; True when everything ended within the timeout."""
        with self._lock:     # waits for an emit under way; the threads emit nothing more (`_send`)
            if self._closed:
                return True
            self._closed = True
        ok = self._stop_stream(timeout_s=timeout_ms / 1000.0)   # a loader still running hands its model to no one
        recorders, self.recorders = self.recorders, {}
        for recorder in recorders.values():
            recorder.close()
        self.tap.detach()
        return ok

"""The inference actor: a QThread with a one-slot "latest frame wins" mailbox.

`submit()` (called in the capture thread through a direct connection) puts a frame in the slot; a
frame still waiting there is replaced and counted as dropped, never queued. The thread takes the
newest frame and hands it to its model thread (a one-slot mailbox of its own: the model always runs on
the newest frame); in real-time mode it shows every frame at once with the newest detections drawn by
the shared renderer (`centernet.io.render`), in hold mode only the inferred frames, and publishes a
`Result`. Publishing is latest-wins as well: at most one `result_ready` signal is
in flight to the GUI thread, which takes the newest result with `take_result()`; so a busy GUI never
builds a queue either. Models load in a `ModelLoader` thread, so video keeps playing meanwhile.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal
import torch

from centernet.errors import CenterNetError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.geometry.transforms import plan_transform, preprocess
from centernet.io.render import RenderOptions, draw_detections, draw_heatmap, draw_trails, visible
from centernet.tracking.live import LiveTracker, LiveTrackingOptions

from app.gui.capture import CapturedFrame


@dataclass(frozen=True)
class DrawOptions:
    """What the overlay shows: the renderer's options, the heatmap, and track ids, trails and smoothing."""

    render: RenderOptions = RenderOptions()
    heatmap: bool = False
    tracking: LiveTrackingOptions = LiveTrackingOptions()


@dataclass
class Result:
    """One frame through the pipeline: the rendered image, its detections and every stage's time."""

    seq: int
    frame: CapturedFrame
    image: np.ndarray                 # BGR uint8 with overlays
    dets: object | None               # Detections (all K) or None without a model
    shown: int                        # detections drawn
    timings: dict                     # ms: capture, pre, net, decode, post, render
    done_at: float                    # perf_counter when rendered
    dropped: int                      # frames the mailbox dropped so far
    inferred: bool                    # the detections drawn were found on this very frame
    boxes_drawn: list = field(default_factory=list)  # (x1, y1, x2, y2, label, score) of the drawn detections
    started_at: float = 0.0           # perf_counter when the worker took the frame
    display: np.ndarray | None = None # BGRA copy of `image`: what the GUI thread paints
    overlay_age_ms: float | None = None  # how much older the frame the detections come from is (None: none drawn)
    inferences: int = 0               # model runs so far
    inferred_at: float = 0.0          # perf_counter when the drawn detections were computed
    trails: dict = field(default_factory=dict)  # track id -> recent centres drawn (when tracking is shown)


@dataclass(frozen=True)
class Overlay:
    """The newest model output: drawn on every frame shown until a newer one comes."""

    frame: CapturedFrame
    dets: object
    heat: np.ndarray | None
    detector: object
    timings: dict
    done_at: float
    trails: dict = field(default_factory=dict)   # track id -> recent centres, when tracking is shown


def load_detector(config: DetectorConfig) -> Detector:
    return Detector.from_config(config)


class ModelLoader(QThread):
    """Loads a checkpoint off the GUI thread; emits the Detector or the library's message."""

    loaded = pyqtSignal(object, object)   # Detector, DetectorConfig
    failed = pyqtSignal(str, object)      # message, DetectorConfig

    def __init__(self, request: DetectorConfig, parent=None):
        super().__init__(parent)
        self.request = request

    def run(self) -> None:
        try:
            detector = load_detector(self.request)
        except CenterNetError as e:
            self.failed.emit(str(e), self.request)
        except Exception as e:  # a broken file can make torch raise anything: a message, not a crash
            traceback.print_exc()
            self.failed.emit(f"cannot load {self.request.weights or 'the default model'}: not a checkpoint this "
                             f"version can read ({type(e).__name__}: {e})", self.request)
        else:
            self.loaded.emit(detector, self.request)


class HeatmapTap:
    """Keeps the centre heatmap of the last forward pass (a forward hook; only while switched on)."""

    KEYS = ("hm", "center")

    def __init__(self):
        self.enabled = False
        self.heat: np.ndarray | None = None
        self._handles = []

    def attach(self, detector) -> None:
        """Hook the modules the detector's backend runs per frame (`hook_modules`) and the model as loaded.

        Not a graph backend's model: it runs only to warm up and capture a CUDA graph, where a hook's
        blocking copy would break the capture (replays run no module: `compute` draws the heatmap)."""
        self.detach()
        seen = set()
        for module in (*detector.backend.hook_modules(), detector.model):
            if id(module) not in seen:
                seen.add(id(module))
                self._handles.append(module.register_forward_hook(self._hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.heat = None

    def compute(self, detector, image: np.ndarray) -> np.ndarray | None:
        """The heatmap by a forward pass of its own: for engines that run no module (a CUDA graph)."""

        model = getattr(detector, "model", None)
        if model is None or getattr(detector, "spec", None) is None:
            return None
        try:
            with torch.inference_mode():
                batch, _ = preprocess(image, detector.spec)
                self._hook(model, None, model(batch.to(detector.device)))
        except Exception:   # a model with no heads to show (e.g. ONNX Runtime): no heatmap, still frames
            return None
        return self.heat

    def _hook(self, module, inputs, outputs) -> None:
        if not self.enabled or not isinstance(outputs, dict):
            return
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return  # inside a CUDA-graph capture: copying to the host would break it
        for key in self.KEYS:
            if key in outputs:
                heat = torch.sigmoid(outputs[key][0].float()).amax(dim=0)
                self.heat = heat.cpu().numpy()
                return


class InferenceWorker(QThread):
    """See the module docstring. All public methods are thread-safe.

    Two threads: this one (the presenter) takes every captured frame, draws the newest overlay on it and
    publishes it; a model thread runs the Detector on the newest frame it was handed. In real-time mode
    (`show_all`) every frame is shown with the detections of the latest inferred frame; otherwise (hold
    frames, or as fast as the model goes) only inferred frames are shown, each with its own detections.
    """

    result_ready = pyqtSignal(object)   # Result (take the newest with take_result())
    error = pyqtSignal(str)             # inference or recording failed: a message for people

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("inference")
        self._cond = threading.Condition()
        self._slot: CapturedFrame | None = None          # the next frame to show
        self._model_slot: CapturedFrame | None = None    # the next frame for the model
        self._model_busy = False
        self._model_thread: threading.Thread | None = None
        self._overlay: Overlay | None = None             # the newest model output
        self._fresh_overlay = False                      # ... not yet handled by the presenter
        self._stop = False
        self._refresh: str | None = None        # "render" or "infer": redo the last frame shown
        self._detector = None
        self._options = DrawOptions()
        self._recorder = None
        self._shown: CapturedFrame | None = None  # the last frame shown
        self._shown_overlay: Overlay | None = None  # ... and the overlay drawn on it
        self._tap = HeatmapTap()
        self._live: LiveTracker | None = None    # the model thread's tracker (None: make one when needed)
        self._out_lock = threading.Lock()
        self._out: Result | None = None
        self._out_pending = False
        self._seq = 0
        self._error_shown = False
        self.show_all = True                    # real-time display: every frame, newest overlay
        self.on_take = None                     # called when a frame leaves a slot (capture pacing)
        self.busy = False                       # a frame (or a refresh) is being presented
        self.generation = 0                     # frames of other sources are ignored
        self.received = 0
        self.dropped = 0                        # frames never shown
        self.inferred = 0                       # model runs

    # ---- mailbox and settings (any thread) ----------------------------------------------------------
    def submit(self, frame: CapturedFrame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self.received += 1
            self._cond.notify_all()

    def slot_empty(self) -> bool:
        """Ready for the next frame: nothing waiting to be shown, nor (with a model) to be inferred."""
        return self._slot is None and (self._model_slot is None or self._detector is None)

    def idle(self) -> bool:
        """Nothing waiting and nothing being processed."""
        with self._cond:
            return (self._slot is None and self._refresh is None and not self.busy and not self._fresh_overlay
                    and self._model_slot is None and not self._model_busy)

    @property
    def published(self) -> int:
        """Sequence number of the newest published result."""
        return self._seq

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def join_model(self, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for the model thread to end after stop(); True when it has."""
        thread = self._model_thread
        if thread is not None:
            thread.join(max(0.0, timeout_s))
            return not thread.is_alive()
        return True

    def reset(self, generation: int = 0) -> None:
        """A new source: forget the waiting frames, the last result and the counters."""
        with self._cond:
            self.generation = generation
            self._slot = self._model_slot = self._shown = self._shown_overlay = self._overlay = None
            self._refresh = None
            self._fresh_overlay = False
            self._live = None
            self.received = self.dropped = self.inferred = 0
        self.take_result()

    def set_detector(self, detector) -> None:
        with self._cond:
            self._tap.detach()
            self._detector = detector
            self._overlay = None
            self._live = None
            if detector is not None:
                self._tap.attach(detector)
            self._error_shown = False

    @property
    def detector(self):
        return self._detector

    def set_show_all(self, show_all: bool) -> None:
        """True: every frame with the newest overlay (real time); False: only inferred frames."""
        with self._cond:
            self.show_all = show_all

    def set_options(self, options: DrawOptions) -> None:
        with self._cond:
            self._options = options
            self._tap.enabled = options.heatmap

    @property
    def options(self) -> DrawOptions:
        return self._options

    def refresh(self, reinfer: bool = False) -> None:
        """Redo the last frame (e.g. while paused) with the current options, or the current model."""
        with self._cond:
            if self._shown is None:
                return
            self._refresh = "infer" if reinfer or self._refresh == "infer" else "render"
            self._cond.notify_all()

    def set_recorder(self, recorder) -> None:
        with self._cond:
            self._recorder = recorder

    def take_result(self) -> Result | None:
        """The newest unseen result (GUI thread), or None."""
        with self._out_lock:
            result, self._out = self._out, None
            self._out_pending = False
        return result

    # ---- the presenter thread -----------------------------------------------------------------------
    def run(self) -> None:
        model = threading.Thread(target=self._model_loop, name="model", daemon=True)
        self._model_thread = model
        model.start()   # joined only with a deadline (join_model): a forward pass cannot be interrupted
        while True:
            with self._cond:
                while not (self._stop or self._slot is not None or self._refresh or self._fresh_overlay):
                    self._cond.wait()
                if self._stop:
                    return
                frame, self._slot = self._slot, None
                refresh, self._refresh = self._refresh, None
                fresh, self._fresh_overlay = self._fresh_overlay, False
                detector, options, overlay, show_all = self._detector, self._options, self._overlay, self.show_all
                if frame is None and (refresh == "infer" or (refresh and options.heatmap and overlay is not None
                                                             and overlay.heat is None)):
                    frame, refresh = self._shown, None    # run the model again on the frame on screen
                model_was_idle = False
                if frame is not None and detector is not None:
                    model_was_idle = self._to_model(frame)
                self.busy = True
            if frame is not None and self.on_take is not None:
                self.on_take()
            try:
                if frame is not None and (show_all or detector is None):
                    if model_was_idle:   # the model runs on this very frame: show it with its own detections,
                        overlay = self._await_overlay(frame, overlay) or overlay   # unless the next frame comes first
                    self._present(frame, overlay, options)
                elif refresh and self._shown is not None:
                    self._present(self._shown, self._overlay, options)
                newest = self._overlay
                if fresh and newest is not None and newest is not self._shown_overlay and (
                        not show_all or newest.frame is self._shown):
                    self._present(newest.frame, newest, options)   # an inferred frame with its own detections
            except Exception as e:  # a bug in drawing or recording: report once, keep going
                self._report(e)
            finally:
                self.busy = False
            if self._stop:
                return

    def _to_model(self, frame: CapturedFrame) -> bool:
        """Hand a frame to the model thread (holding the lock); True when the model was idle."""
        idle = not self._model_busy and self._model_slot is None
        if self._model_slot is not None and not self.show_all:
            self.dropped += 1       # only inferred frames are shown: this one never will be
        self._model_slot = frame
        self._cond.notify_all()
        return idle

    def _await_overlay(self, frame: CapturedFrame, previous: Overlay | None) -> Overlay | None:
        """Wait for the model's new output on `frame`; None when the next frame (or a stop) comes first."""
        with self._cond:
            while not (self._stop or self._slot is not None):
                overlay = self._overlay
                if overlay is not None and overlay is not previous and overlay.frame is frame:
                    self._fresh_overlay = False
                    return overlay
                if not self._model_busy and self._model_slot is None and not self._fresh_overlay:
                    return None     # the model gave up on it (an error, or the source changed)
                self._cond.wait()
        return None

    def _present(self, frame: CapturedFrame, overlay: Overlay | None, options: DrawOptions) -> None:
        """Draw `overlay` on `frame`, record it and publish it."""
        if frame.generation != self.generation:
            return   # taken just before the source changed
        if overlay is not None and (overlay.frame.generation != frame.generation or overlay.frame.index > frame.index):
            overlay = None   # from before a seek back or a loop: nothing to draw until the model catches up
        timings = {"capture": frame.capture_ms}
        detector = overlay.detector if overlay is not None else self._detector
        if overlay is not None:
            timings.update(overlay.timings)
        dets, heat = (overlay.dets, overlay.heat) if overlay is not None else (None, None)
        start = time.perf_counter()
        image, shown, drawn = self.render(frame.image, dets, heat, detector, options,
                                          overlay.trails if overlay is not None else None)
        with self._cond:
            self._shown, self._shown_overlay = frame, overlay
            recorder = self._recorder
            inferences = self.inferred
        if recorder is not None:
            try:
                recorder.write(image, frame.index)
            except Exception as e:
                self.set_recorder(None)
                self.error.emit(f"recording stopped: {e}")
        display = for_display(image)
        timings["render"] = (time.perf_counter() - start) * 1000.0
        age = None if overlay is None else max(0.0, (frame.captured_at - overlay.frame.captured_at) * 1000.0)
        self._seq += 1
        result = Result(self._seq, frame, image, dets, shown, timings, time.perf_counter(), self.dropped,
                        overlay is not None and overlay.frame is frame, drawn, start, display,
                        overlay_age_ms=age, inferences=inferences,
                        inferred_at=overlay.done_at if overlay is not None else 0.0,
                        trails=overlay.trails if overlay is not None and options.tracking.track else {})
        self._publish(result)

    def _report(self, e: Exception) -> None:
        if not self._error_shown:
            self._error_shown = True
            traceback.print_exc(file=sys.stderr)
            message = str(e) if isinstance(e, CenterNetError) else f"inference failed: {type(e).__name__}: {e}"
            self.error.emit(message)

    # ---- the model thread ---------------------------------------------------------------------------
    def _model_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._stop or self._model_slot is not None):
                    self._cond.wait()
                if self._stop:
                    return
                frame, self._model_slot = self._model_slot, None
                detector, options = self._detector, self._options
                self._model_busy = True
            if self.on_take is not None:
                self.on_take()
            try:
                overlay = self._infer(frame, detector, options)
            except Exception as e:  # a model that fails on this input: report once, keep going
                overlay = None
                self._report(e)
            with self._cond:
                self._model_busy = False
                if overlay is not None and detector is self._detector and frame.generation == self.generation:
                    self.inferred += 1
                    self._overlay = overlay
                    self._fresh_overlay = True
                self._cond.notify_all()

    def _infer(self, frame: CapturedFrame, detector, options: DrawOptions) -> Overlay | None:
        if detector is None or frame.generation != self.generation:
            return None
        self._tap.heat = None
        dets = detector(frame.image)
        timings = dict(dets.timings)
        heat = self._tap.heat if options.heatmap else None
        if options.heatmap and heat is None:
            heat = self._tap.compute(detector, frame.image)
        trails = {}
        if options.tracking.active:
            start = time.perf_counter()
            tracked = self._live_tracker(options.tracking).update(
                dets, frame.timestamp_ms / 1000.0, options.render.threshold, options.render.classes)
            dets, trails = tracked.dets, tracked.trails
            timings["track"] = (time.perf_counter() - start) * 1000.0
        return Overlay(frame, dets, heat, detector, timings, time.perf_counter(), trails)

    def _live_tracker(self, options: LiveTrackingOptions) -> LiveTracker:
        """The model thread's tracker, following the toggles (switching one keeps the tracks and their ids)."""
        with self._cond:
            if self._live is None:
                self._live = LiveTracker(options)
            elif self._live.options != options:
                self._live.set_options(options)
            return self._live

    @staticmethod
    def render(image: np.ndarray, dets, heat, detector, options: DrawOptions, trails: dict | None = None):
        """The shared renderer's picture of one frame: (image, number drawn, drawn boxes)."""
        if heat is not None and detector is not None:
            image = draw_heatmap(image, heat, _heat_to_image(detector, image.shape[:2], heat.shape))
        if dets is None or detector is None:
            return image, 0, []
        opts = options.render
        camera = getattr(detector, "camera", None)
        shown = visible(dets, opts)
        out = draw_detections(image, shown, detector.class_names, opts, camera)
        if trails and options.tracking.track:
            out = draw_trails(out, trails, opts)
        d = shown.numpy()
        drawn = [(*map(float, d["boxes"][i]), int(d["labels"][i]), float(d["scores"][i])) for i in range(len(shown))]
        return out, len(shown), drawn

    def _publish(self, result: Result) -> None:
        with self._out_lock:
            self._out = result
            notify = not self._out_pending
            self._out_pending = True
        if notify:
            self.result_ready.emit(result)


def for_display(image: np.ndarray) -> np.ndarray:
    """BGRA copy of a BGR frame: QImage's RGB32 byte order, which Qt paints (and scales) with no conversion.

    Done here, off the GUI thread (measured at 1080p: painting BGR888 cost 6.8 ms a frame in the GUI
    thread, RGB32 2.6 ms; shrinking in this thread instead cost more than it saved).
    """
    return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)


def _heat_to_image(detector, image_hw, heat_hw) -> np.ndarray:
    """2x3 matrix from heatmap cells to image pixels for this detector's pre-processing."""
    tf = plan_transform(detector.spec, image_hw)
    down = max(1, round(tf.input_size[0] / heat_hw[0]))
    return tf.output_to_image(down)


def with_threshold(options: DrawOptions, threshold: float) -> DrawOptions:
    return replace(options, render=replace(options.render, threshold=float(threshold)))

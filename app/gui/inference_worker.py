"""The inference actor: a QThread with a one-slot "latest frame wins" mailbox.

`submit()` (called in the capture thread through a direct connection) puts a frame in the slot; a
frame still waiting there is replaced and counted as dropped, never queued. The thread takes the
newest frame, runs the Detector, draws the overlays with the shared renderer (`centernet.io.render`)
and publishes a `Result`. Publishing is latest-wins as well: at most one `result_ready` signal is
in flight to the GUI thread, which takes the newest result with `take_result()`; so a busy GUI never
builds a queue either. Models load in a `ModelLoader` thread, so video keeps playing meanwhile.
"""
from __future__ import annotations

import inspect
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from centernet.errors import CenterNetError
from centernet.io.render import RenderOptions, draw_detections, draw_heatmap, visible

from app.gui.capture import CapturedFrame


@dataclass(frozen=True)
class DrawOptions:
    """What the overlay shows: the renderer's options plus the heatmap."""

    render: RenderOptions = RenderOptions()
    heatmap: bool = False


@dataclass(frozen=True)
class ModelRequest:
    """A model to load: a checkpoint (None: the shipped default) and how to run it."""

    weights: str | None = None
    arch: str | None = None
    task: str | None = None
    device: str = "auto"
    input_size: tuple[int, int] | None = None
    keep_res: bool = False
    engine: str = "auto"          # the Detector's engine: auto, eager, graph (CUDA) or plain
    precision: str = "fp32"
    flip: bool = False


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
    inferred: bool
    boxes_drawn: list = field(default_factory=list)  # (x1, y1, x2, y2, label, score) of the drawn detections
    started_at: float = 0.0           # perf_counter when the worker took the frame
    display: np.ndarray | None = None # BGRA copy of `image`: what the GUI thread paints


def detector_parameters() -> set[str]:
    """Keyword arguments the library's Detector accepts (the GUI hides options it lacks)."""
    from centernet.inference.detector import Detector
    return set(inspect.signature(Detector.__init__).parameters) | set(
        inspect.signature(Detector.from_checkpoint).parameters)


def load_detector(request: ModelRequest):
    """Detector.from_checkpoint with the options this version of the library supports."""
    from centernet.inference.detector import Detector
    accepted = detector_parameters()
    kwargs = {"keep_res": request.keep_res, "input_size": request.input_size}
    if request.precision != "fp32" and "precision" in accepted:
        kwargs["precision"] = request.precision
    if request.engine != "auto" and "engine" in accepted:
        kwargs["engine"] = request.engine
    if request.flip:
        for name in ("flip_test", "flip"):
            if name in accepted:
                kwargs[name] = True
                break
    return Detector.from_checkpoint(request.weights, arch=request.arch, task=request.task,
                                    device=request.device, **kwargs)


class ModelLoader(QThread):
    """Loads a checkpoint off the GUI thread; emits the Detector or the library's message."""

    loaded = pyqtSignal(object, object)   # Detector, ModelRequest
    failed = pyqtSignal(str, object)      # message, ModelRequest

    def __init__(self, request: ModelRequest, parent=None):
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
        """Hook the modules the detector may run: its engine's prepared model and the model as loaded.

        Not a graph engine's model: it runs only to warm up and capture a CUDA graph, where a hook's
        blocking copy would break the capture (replays run no module: `compute` draws the heatmap)."""
        self.detach()
        engine = getattr(detector, "engine", None)
        engine_model = None if getattr(engine, "mode", None) == "graph" else getattr(engine, "model", None)
        seen = set()
        for module in (engine_model, getattr(detector, "model", None)):
            if module is not None and hasattr(module, "register_forward_hook") and id(module) not in seen:
                seen.add(id(module))
                self._handles.append(module.register_forward_hook(self._hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.heat = None

    def compute(self, detector, image: np.ndarray) -> np.ndarray | None:
        """The heatmap by a forward pass of its own: for engines that run no module (a CUDA graph)."""
        import torch

        from centernet.inference.transforms import preprocess
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
        import torch
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return  # inside a CUDA-graph capture: copying to the host would break it
        for key in self.KEYS:
            if key in outputs:
                heat = torch.sigmoid(outputs[key][0].float()).amax(dim=0)
                self.heat = heat.cpu().numpy()
                return


class InferenceWorker(QThread):
    """See the module docstring. All public methods are thread-safe."""

    result_ready = pyqtSignal(object)   # Result (take the newest with take_result())
    error = pyqtSignal(str)             # inference or recording failed: a message for people

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("inference")
        self._cond = threading.Condition()
        self._slot: CapturedFrame | None = None
        self._stop = False
        self._refresh: str | None = None        # "render" or "infer": redo the last frame
        self._detector = None
        self._options = DrawOptions()
        self._recorder = None
        self._last: tuple | None = None         # (frame, dets, heat, detector) of the last result
        self._tap = HeatmapTap()
        self._out_lock = threading.Lock()
        self._out: Result | None = None
        self._out_pending = False
        self._seq = 0
        self._error_shown = False
        self.on_take = None                     # called when a frame leaves the slot (capture pacing)
        self.busy = False                       # a frame (or a refresh) is being processed
        self.generation = 0                     # frames of other sources are ignored
        self.received = 0
        self.dropped = 0
        self.inferred = 0

    # ---- mailbox and settings (any thread) ----------------------------------------------------------
    def submit(self, frame: CapturedFrame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self.received += 1
            self._cond.notify_all()

    def slot_empty(self) -> bool:
        return self._slot is None

    def idle(self) -> bool:
        """Nothing waiting and nothing being processed."""
        with self._cond:
            return self._slot is None and self._refresh is None and not self.busy

    @property
    def published(self) -> int:
        """Sequence number of the newest published result."""
        return self._seq

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def reset(self, generation: int = 0) -> None:
        """A new source: forget the waiting frame, the last result and the counters."""
        with self._cond:
            self.generation = generation
            self._slot = None
            self._last = None
            self._refresh = None
            self.received = self.dropped = self.inferred = 0
        self.take_result()

    def set_detector(self, detector) -> None:
        with self._cond:
            self._tap.detach()
            self._detector = detector
            if detector is not None:
                self._tap.attach(detector)
            self._error_shown = False

    @property
    def detector(self):
        return self._detector

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
            if self._last is None:
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

    # ---- the thread ---------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            with self._cond:
                while not (self._stop or self._slot is not None or self._refresh):
                    self._cond.wait()
                if self._stop:
                    return
                frame, self._slot = self._slot, None
                refresh, self._refresh = self._refresh, None
                detector, options, last = self._detector, self._options, self._last
                self.busy = True
            if frame is not None and self.on_take is not None:
                self.on_take()
            try:
                if frame is not None:
                    self._process(frame, detector, options, run_model=True)
                elif last is not None:
                    frame, dets, heat, last_detector = last
                    again = refresh == "infer" or last_detector is not detector or (options.heatmap and heat is None)
                    self._process(frame, detector, options, run_model=again, dets=dets, heat=heat)
            except Exception as e:  # a bug or a model that fails on this input: report once, keep going
                if not self._error_shown:
                    self._error_shown = True
                    traceback.print_exc(file=sys.stderr)
                    message = str(e) if isinstance(e, CenterNetError) else f"inference failed: {type(e).__name__}: {e}"
                    self.error.emit(message)
            finally:
                self.busy = False
            if self._stop:
                return

    def _process(self, frame: CapturedFrame, detector, options: DrawOptions, run_model: bool,
                 dets=None, heat=None) -> None:
        if frame.generation != self.generation:
            return   # taken just before the source changed
        timings = {"capture": frame.capture_ms}
        started_at = time.perf_counter()
        inferred = False
        if run_model and detector is not None:
            self._tap.heat = None
            dets = detector(frame.image)
            heat = self._tap.heat if options.heatmap else None
            if options.heatmap and heat is None:
                heat = self._tap.compute(detector, frame.image)
            timings.update(dets.timings)
            inferred = True
            with self._cond:
                self.inferred += 1
        elif detector is None:
            dets, heat = None, None
        elif dets is not None:
            timings.update(dets.timings)
        if self._stop:
            return
        start = time.perf_counter()
        image, shown, drawn = self.render(frame.image, dets, heat, detector, options)
        timings["render"] = (time.perf_counter() - start) * 1000.0
        with self._cond:
            self._last = (frame, dets, heat, detector)
            recorder = self._recorder
        if recorder is not None:
            try:
                recorder.write(image, frame.index)
            except Exception as e:
                self.set_recorder(None)
                self.error.emit(f"recording stopped: {e}")
        display = for_display(image)
        timings["render"] = (time.perf_counter() - start) * 1000.0
        self._seq += 1
        result = Result(self._seq, frame, image, dets, shown, timings, time.perf_counter(), self.dropped,
                        inferred, drawn, started_at, display)
        self._publish(result)

    @staticmethod
    def render(image: np.ndarray, dets, heat, detector, options: DrawOptions):
        """The shared renderer's picture of one frame: (image, number drawn, drawn boxes)."""
        if heat is not None and detector is not None:
            image = draw_heatmap(image, heat, _heat_to_image(detector, image.shape[:2], heat.shape))
        if dets is None or detector is None:
            return image, 0, []
        opts = options.render
        camera = getattr(detector, "camera", None)
        shown = visible(dets, opts)
        out = draw_detections(image, shown, detector.class_names, opts, camera)
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
    import cv2
    return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)


def _heat_to_image(detector, image_hw, heat_hw) -> np.ndarray:
    """2x3 matrix from heatmap cells to image pixels for this detector's pre-processing."""
    from centernet.inference.transforms import plan_transform
    tf = plan_transform(detector.spec, image_hw)
    down = max(1, round(tf.input_size[0] / heat_hw[0]))
    return tf.output_to_image(down)


def with_threshold(options: DrawOptions, threshold: float) -> DrawOptions:
    return replace(options, render=replace(options.render, threshold=float(threshold)))

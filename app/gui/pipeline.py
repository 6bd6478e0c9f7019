"""The capture thread and the inference worker, wired together; shared by the window and --headless.

Lives in the GUI (or main) thread. Frames go from the capture thread straight into the worker's
mailbox (a direct connection: no event-loop queue in between); results come back as one queued
signal at a time and are re-emitted as `result_ready` for the newest result only.
"""
from __future__ import annotations

import atexit
import time

import cv2
from PyQt6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, pyqtSignal

from app.gui.capture import CaptureThread, SourceInfo
from app.gui.inference_worker import InferenceWorker, ModelLoader
from centernet.inference.config import DetectorConfig

# threads that missed a shutdown deadline (a forward pass cannot be interrupted): kept referenced
# until they end, so Qt never destroys a running QThread
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


class Pipeline(QObject):
    result_ready = pyqtSignal(object)      # Result, newest only
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

    def __init__(self, parent=None):
        super().__init__(parent)
        # The pipeline is already three threads (capture, presenter, model) on a few cores: OpenCV's own pool
        # on top only fought them (2 cores, default model, gui --headless --fast, 4 alternating pairs: inference
        # 11.9 -> 16.3 fps median, decode 11-16 -> 4-6 ms, pre 10-15 -> 8-9 ms with one OpenCV thread a caller)
        cv2.setNumThreads(1)
        self.worker = InferenceWorker()
        self.worker.result_ready.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        self.worker.error.connect(self.error)
        self.worker.start()
        self.capture: CaptureThread | None = None
        self.source_info: SourceInfo | None = None
        self.source_spec: str | None = None
        self.realtime = True
        self.hold = False          # show only inferred frames (for judging accuracy)
        self.loop = False
        self._generation = 0
        self._loaders: list[ModelLoader] = []
        self._wanted_model: DetectorConfig | None = None
        self.model_request: DetectorConfig | None = None
        self._closed = False
        self._end_message = ""
        self._end_timer = QTimer(self, interval=20)
        self._end_timer.timeout.connect(self._end_when_shown)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- sources ------------------------------------------------------------------------------------
    def open_source(self, spec) -> None:
        """Start reading `spec` (camera index, file, folder, image or URL); errors come as source_failed."""
        self._stop_capture(timeout_ms=1000)
        self._generation += 1
        self.worker.reset(self._generation)
        self.source_info = None
        self.source_spec = str(spec)
        cap = CaptureThread(spec, realtime=self.realtime, loop=self.loop, ready=self.worker.slot_empty,
                            generation=self._generation)
        cap.frame_ready.connect(self.worker.submit, Qt.ConnectionType.DirectConnection)
        cap.opened.connect(self._on_opened)
        cap.failed.connect(self._on_failed)
        cap.status.connect(self._on_status)
        cap.reconnected.connect(self._on_reconnected)
        cap.ended.connect(self._on_ended)
        cap.paused_changed.connect(self._on_paused_changed)
        self.worker.on_take = cap.wake
        self.capture = cap
        cap.start()

    # signals of the current capture thread only (a replaced one may still be winding down)
    def _current(self) -> bool:
        return self.sender() is self.capture and self.capture is not None

    def _on_opened(self, info: SourceInfo) -> None:
        if self._current():
            self.source_info = info
            self.source_opened.emit(info)

    def _on_failed(self, message: str) -> None:
        if self._current():
            self.source_failed.emit(message)

    def _on_status(self, message: str) -> None:
        if self._current():
            if message.startswith("end of"):
                self._end_message = message   # said once the last frames are on screen (_on_ended)
            else:
                self.status.emit(message)

    def _on_reconnected(self) -> None:
        if self._current():
            self.reconnected.emit()

    def _on_ended(self) -> None:
        if self._current():
            self._end_timer.start()

    def _end_when_shown(self) -> None:
        """The capture reached the end: say so once the frames still in the pipeline have been shown."""
        if self.capture is None or not self.capture.is_paused():
            self._end_timer.stop()    # played again meanwhile
        elif self.worker.idle():
            self._end_timer.stop()
            if self._end_message:
                self.status.emit(self._end_message)
            self.ended.emit()

    def _on_paused_changed(self, paused: bool) -> None:
        if self._current():
            self.paused_changed.emit(paused)

    def _stop_capture(self, timeout_ms: int) -> bool:
        cap, self.capture = self.capture, None
        if cap is None:
            return True
        self.worker.on_take = None
        cap.frame_ready.disconnect()
        cap.stop()
        done = cap.wait(timeout_ms)
        _keep_until_finished(cap)
        return done

    def close_source(self) -> None:
        self._stop_capture(timeout_ms=1000)
        self.source_info = None

    # ---- playback -----------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.capture is not None and self.capture.is_paused()

    def set_paused(self, paused: bool) -> None:
        if self.capture is not None:
            self.capture.set_paused(paused)

    def step(self) -> None:
        if self.capture is not None:
            self.capture.step()

    def seek(self, index: int) -> None:
        if self.capture is not None:
            self.capture.seek(index)

    def set_loop(self, loop: bool) -> None:
        self.loop = loop
        if self.capture is not None:
            self.capture.set_loop(loop)

    def set_realtime(self, realtime: bool) -> None:
        self.realtime = realtime
        self.worker.set_show_all(self.realtime and not self.hold)
        if self.capture is not None:
            self.capture.set_realtime(realtime)

    def set_hold(self, hold: bool) -> None:
        """Hold frames: show only the frames the model ran on, each with its own detections."""
        self.hold = hold
        self.worker.set_show_all(self.realtime and not self.hold)

    # ---- model --------------------------------------------------------------------------------------
    def load_model(self, request: DetectorConfig) -> None:
        """Load in the background; the newest request wins. Frames keep flowing meanwhile."""
        self._wanted_model = request
        loader = ModelLoader(request)
        loader.loaded.connect(self._on_model_loaded)
        loader.failed.connect(self._on_model_failed)
        loader.finished.connect(lambda l=loader: self._loaders.remove(l) if l in self._loaders else None)
        self._loaders.append(loader)
        self.model_loading.emit(request)
        loader.start()

    def set_detector(self, detector) -> None:
        self.worker.set_detector(detector)
        if self.paused:
            self.worker.refresh(reinfer=True)

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
        return any(l.isRunning() for l in self._loaders)

    # ---- results ------------------------------------------------------------------------------------
    def _on_result(self, _payload) -> None:
        result = self.worker.take_result()
        if result is None or result.frame.generation != self._generation:
            return
        self.result_ready.emit(result)

    # ---- shutdown -----------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop both threads and release the source; True when everything ended within the timeout."""
        if self._closed:
            return True
        self._closed = True
        deadline = time.monotonic() + timeout_ms / 1000.0
        left = lambda: max(0, int((deadline - time.monotonic()) * 1000))  # noqa: E731
        cap = self.capture
        if cap is not None:
            cap.stop()
        self.worker.stop()
        ok = self._stop_capture(timeout_ms=left())
        ok = self.worker.wait(left()) and ok
        ok = self.worker.join_model(left() / 1000.0) and ok
        _keep_until_finished(self.worker)
        for loader in list(self._loaders):
            _keep_until_finished(loader)
        recorder = getattr(self.worker, "_recorder", None)
        if recorder is not None:
            self.worker.set_recorder(None)
            recorder.close()
        return ok

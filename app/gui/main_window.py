"""The window: video, transport bar, control panel and latency readout; menus, shortcuts and settings.

The GUI thread only paints and reacts: capture and inference run in their own threads (`Pipeline`),
checkpoints load in a loader thread, snapshots and recordings are written off this thread.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QThreadPool, QTimer
from PyQt6.QtGui import QAction, QColor, QKeySequence, QPalette
from PyQt6.QtWidgets import (QApplication, QDockWidget, QInputDialog, QLabel, QMainWindow, QMessageBox,
                             QScrollArea, QVBoxLayout, QWidget)

from centernet.inference.engine import cpu_has_native_bf16
from centernet.inference.onnx_export import onnx_runtime_available

from app.gui.capture import CameraLister, SourceInfo
from app.gui.controls import Controls, TransportBar, engine_key
from app.gui.inference_worker import ModelRequest, detector_parameters
from app.gui.latency_panel import LatencyPanel
from app.gui.pipeline import Pipeline
from app.gui.recorder import Recorder
from app.gui.stats import PipelineStats, device_description, memory_description
from app.gui.video_view import VideoView

APP_NAME = "CenterNet Live"

STYLE_SHEET = """
QMainWindow, QDockWidget { background: #1b1d22; }
QDockWidget::title { background: #23262d; padding: 6px 10px; color: #c9ced8; font-weight: 600; }
QGroupBox { border: 1px solid #30343c; border-radius: 8px; margin-top: 14px; padding: 10px 8px 8px 8px;
            font-weight: 600; color: #dfe3ea; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #8fb8ff; }
QLabel#hint { color: #9aa3b2; font-size: 11px; }
QLabel#error { color: #ff7b72; font-size: 11px; }
QLineEdit[invalid="true"] { border: 1px solid #ff7b72; }
QFrame#metric { background: #23262d; border-radius: 8px; min-width: 92px; }
QLabel#metricValue { color: #f2f4f8; font-size: 20px; font-weight: 700; }
QLabel#metricCaption { color: #8b93a1; font-size: 10px; }
QLabel#stageValue { color: #f2f4f8; font-family: monospace; }
QLabel#infoLine { color: #aab2c0; font-size: 11px; }
QPushButton#primary { background: #2f6fdb; color: white; border: none; border-radius: 5px; padding: 5px 16px; }
QPushButton#primary:hover { background: #3b7cf0; }
QWidget#transport { background: #202329; }
QStatusBar { background: #17191d; color: #aab2c0; }
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette: the video stays the brightest thing on screen."""
    app.setStyle("Fusion")
    p = QPalette()
    base, alt, text = QColor(27, 29, 34), QColor(35, 38, 45), QColor(223, 227, 234)
    for role, color in ((QPalette.ColorRole.Window, base), (QPalette.ColorRole.WindowText, text),
                        (QPalette.ColorRole.Base, QColor(20, 22, 26)), (QPalette.ColorRole.AlternateBase, alt),
                        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, alt),
                        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.ToolTipBase, alt),
                        (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.Highlight, QColor(47, 111, 219)),
                        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                        (QPalette.ColorRole.PlaceholderText, QColor(120, 126, 138))):
        p.setColor(role, color)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(100, 105, 115))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(100, 105, 115))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(100, 105, 115))
    app.setPalette(p)


def default_settings() -> QSettings:
    return QSettings(APP_NAME, APP_NAME)


class MainWindow(QMainWindow):
    """See the module docstring. Keyword arguments are the `gui` command's options (they win over settings)."""

    def __init__(self, settings: QSettings | None = None, source: str | None = None, weights: str | None = None,
                 threshold: float | None = None, input_size=None, keep_res: bool = False, device: str | None = None,
                 arch: str | None = None, task: str | None = None, output_dir: str | Path | None = None,
                 load_model: bool = True, open_last_source: bool = True, loop: bool | None = None,
                 realtime: bool | None = None, engine: str | None = None, precision: str | None = None):
        super().__init__()
        self.settings = settings if settings is not None else default_settings()
        self.setWindowTitle(APP_NAME)
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1360, 860)
        import torch
        self.cuda = torch.cuda.is_available()
        self.arch, self.task = arch, task
        self._cli_weights = weights
        self._banner_topic = ""
        self._load_failed = False
        self.output_dir = Path(output_dir) if output_dir else Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or ".") / APP_NAME
        self.stats = PipelineStats()
        self.last_result = None
        self.last_error = ""
        self.message_box: QMessageBox | None = None
        self.recorder: Recorder | None = None
        self.device_text = ""
        self.detector = None
        self._camera_lister = None
        self._message_timer = QTimer(self, singleShot=True, interval=4000)
        self._message_timer.timeout.connect(lambda: self.view.set_message(""))
        self._message_timer.timeout.connect(lambda: setattr(self, "_banner_topic", ""))

        self.pipeline = Pipeline(self)
        self._build_ui()
        self._build_actions()
        self._connect()
        self._restore(source, weights, threshold, input_size, keep_res, device, engine, precision)
        if loop is not None:
            self.transport.loop_box.setChecked(loop)
        if realtime is not None:
            self.transport.realtime_box.setChecked(realtime)

        self.readout_timer = QTimer(self, interval=250)
        self.readout_timer.timeout.connect(self._update_readout)
        self.readout_timer.start()

        if load_model:
            self.load_model(self.controls.model_request(arch=arch, task=task))
        spec = source if source is not None else (self.settings.value("source", "") if open_last_source else "")
        if spec and (source is not None or Path(str(spec)).exists()):
            self.open_source(str(spec))

    # ---- layout -------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = VideoView()
        self.transport = TransportBar()
        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.view, 1)
        v.addWidget(self.transport)
        self.setCentralWidget(central)

        self.controls = Controls(cuda=self.cuda, detector_options=detector_parameters(),
                                 cpu_bf16=cpu_has_native_bf16(), onnx_runtime=onnx_runtime_available())
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(330)
        self.controls_dock = QDockWidget("Controls", self)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(scroll)
        self.controls_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.controls_dock)

        self.latency = LatencyPanel()
        self.latency_dock = QDockWidget("Performance", self)
        self.latency_dock.setObjectName("latencyDock")
        self.latency_dock.setWidget(self.latency)
        self.latency_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.latency_dock)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self.source_label = QLabel("no source")
        self.model_label = QLabel("no model")
        self.statusBar().addPermanentWidget(self.source_label)
        self.statusBar().addPermanentWidget(self.model_label)

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)   # shortcuts work with the menu bar hidden (full screen)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "Open video or image…", self._open_file_dialog, QKeySequence.StandardKey.Open)
        self._action(f, "Open image folder…", self._open_folder_dialog)
        self._action(f, "Open stream URL…", self._open_url_dialog, "Ctrl+U")
        self._action(f, "Open camera…", self._open_camera_dialog)
        f.addSeparator()
        self._action(f, "Open checkpoint…", self.controls._browse_weights, "Ctrl+M")
        self._action(f, "Model zoo…", self.show_zoo)
        f.addSeparator()
        self.snapshot_action = self._action(f, "Snapshot to PNG", self.snapshot, Qt.Key.Key_S)
        self.record_action = self._action(f, "Record to MP4", self.toggle_recording, Qt.Key.Key_R, checkable=True)
        f.addSeparator()
        self._action(f, "Quit", self.close, Qt.Key.Key_Q)
        p = bar.addMenu("&Playback")
        self.pause_action = self._action(p, "Pause", self.toggle_pause, Qt.Key.Key_Space, checkable=True)
        self._action(p, "Next frame", self.step, Qt.Key.Key_Right)
        self.loop_action = self._action(p, "Loop", self.transport.loop_box.setChecked, checkable=True)
        self.realtime_action = self._action(p, "Real-time (file frame rate)", self.transport.realtime_box.setChecked,
                                            checkable=True)
        v = bar.addMenu("&View")
        self.fullscreen_action = self._action(v, "Full screen", self.toggle_fullscreen, Qt.Key.Key_F, checkable=True)
        v.addAction(self.controls_dock.toggleViewAction())
        v.addAction(self.latency_dock.toggleViewAction())
        h = bar.addMenu("&Help")
        self._action(h, "Keyboard shortcuts", self._show_shortcuts)
        self._action(h, "About", lambda: QMessageBox.about(
            self, APP_NAME, f"<b>{APP_NAME}</b><p>CenterNet (Objects as Points) on live video.</p>"))
        self.exit_fullscreen = QAction(self)
        self.exit_fullscreen.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.exit_fullscreen.triggered.connect(lambda: self.isFullScreen() and self.toggle_fullscreen())
        self.addAction(self.exit_fullscreen)

    def _connect(self) -> None:
        pl, c, t = self.pipeline, self.controls, self.transport
        pl.result_ready.connect(self._on_result)
        pl.source_opened.connect(self._on_source_opened)
        pl.source_failed.connect(self._on_source_failed)
        pl.status.connect(self._on_status)
        pl.reconnected.connect(lambda: self._message_timer.start())
        pl.paused_changed.connect(self._on_paused_changed)
        pl.model_loading.connect(self._on_model_loading)
        pl.model_loaded.connect(self._on_model_loaded)
        pl.model_failed.connect(self._on_model_failed)
        pl.error.connect(lambda m: self.show_message(m, "error"))
        self.view.frame_painted.connect(self._on_painted)
        c.source_requested.connect(self.open_source)
        c.model_requested.connect(self._on_model_requested)
        c.options_changed.connect(self._on_options)
        c.cameras_wanted.connect(self.list_cameras)
        t.play_toggled.connect(self.toggle_pause)
        t.step_clicked.connect(self.step)
        t.seek_requested.connect(self.pipeline.seek)
        t.loop_toggled.connect(self._on_loop)
        t.realtime_toggled.connect(self._on_realtime)

    # ---- settings -----------------------------------------------------------------------------------
    def _restore(self, source, weights, threshold, input_size, keep_res, device, engine=None, precision=None) -> None:
        s, c = self.settings, self.controls
        geometry = s.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("window_state")
        if state is not None:
            self.restoreState(state)
        c.set_source(source if source is not None else s.value("source", ""))
        saved = s.value("weights", "") or None
        if saved and not Path(saved).is_file():
            saved = None   # moved or deleted since: the default model, not an error dialog at start
        c.set_weights(weights if weights is not None else saved)
        c.set_threshold(threshold if threshold is not None else float(s.value("threshold", 0.3)))
        for key, box in c.toggles.items():
            box.setChecked(_as_bool(s.value(f"toggles/{key}", key != "heatmap")))
        c.class_filter.setText(s.value("classes", "") or "")
        size = "keep" if keep_res else input_size
        if size is None:
            saved = s.value("input_size", "")
            size = "keep" if saved == "keep" else (tuple(int(v) for v in str(saved).split("x")) if saved else None)
        c.set_input_size(size)
        c.set_engine_choice(s.value("engine", "") or "")   # the command line's device / engine below win
        if device and device != "auto":
            c.set_device(device)
        if engine not in (None, "auto") or precision not in (None, "fp32"):
            c.set_engine(engine or "auto", precision or "fp32")
        self.transport.loop_box.setChecked(_as_bool(s.value("loop", False)))
        self.transport.realtime_box.setChecked(_as_bool(s.value("realtime", True)))
        self.loop_action.setChecked(self.transport.loop_box.isChecked())
        self.realtime_action.setChecked(self.transport.realtime_box.isChecked())
        self.pipeline.set_loop(self.transport.loop_box.isChecked())
        self.pipeline.set_realtime(self.transport.realtime_box.isChecked())
        self.pipeline.worker.set_options(c.draw_options())

    def save_settings(self) -> None:
        s, c = self.settings, self.controls
        s.setValue("threshold", c.threshold)
        for key, box in c.toggles.items():
            s.setValue(f"toggles/{key}", box.isChecked())
        s.setValue("classes", c.class_filter.text())
        size = c.input_size.currentData()
        s.setValue("input_size", "keep" if size == "keep" else (f"{size[0]}x{size[1]}" if size else ""))
        request = self.pipeline.model_request          # the model in use; never one that failed to load
        s.setValue("weights", (request.weights if request else (None if self._load_failed else c.weights)) or "")
        if request is not None:
            s.setValue("engine", engine_key(request.device, request.engine, request.precision))
        elif not self._load_failed:
            s.setValue("engine", c.engine_choice())
        s.setValue("loop", self.transport.loop_box.isChecked())
        s.setValue("realtime", self.transport.realtime_box.isChecked())
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.sync()

    # ---- sources ------------------------------------------------------------------------------------
    def open_source(self, spec: str) -> None:
        spec = str(spec).strip()
        if not spec:
            return
        self.controls.set_source(spec)
        self.stats.reset()
        self.latency.clear()
        self.last_result = None
        self.view.clear()
        if self._banner_topic != "model":
            self.show_message(f"opening {spec}…", "info", sticky=True, topic="source")
        self.source_label.setText(f"opening {Path(spec).name if '://' not in spec else spec}…")
        self.settings.setValue("source", spec)
        self.pipeline.open_source(spec)
        self.pause_action.setChecked(False)
        self.transport.set_paused(False)

    def _on_source_opened(self, info: SourceInfo) -> None:
        if self._banner_topic == "source":
            self.view.set_message("")
            self.statusBar().clearMessage()
        self.source_label.setText(info.describe())
        name = info.spec if info.kind in ("stream", "camera") else Path(info.spec).name
        self.setWindowTitle(f"{name} — {APP_NAME}")
        self.transport.set_source(info.frame_count, info.seekable)

    def _on_source_failed(self, message: str) -> None:
        message = message.replace("list them with --list-cameras", "the ⟳ button in the Source panel lists them")
        self.source_label.setText("no source")
        self.view.clear()
        self.show_message(message, "error", sticky=True, topic="source")

    def _on_status(self, message: str) -> None:
        level = "info" if message.startswith("reconnected") else "warning"
        self.show_message(message, level, sticky=level == "warning", topic="source")

    def show_message(self, message: str, level: str = "info", sticky: bool = False, topic: str = "") -> None:
        """A banner over the video and the status bar; errors are kept in `last_error`."""
        if level == "error":
            self.last_error = message
        self._banner_topic = topic
        self.view.set_message(message, level)
        self.statusBar().showMessage(message, 0 if sticky else 6000)
        if sticky:
            self._message_timer.stop()
        else:
            self._message_timer.start()

    def _open_file_dialog(self) -> None:
        self.controls.source_kind.setCurrentIndex(self.controls.source_kind.findData("file"))
        self.controls._browse_source()

    def _open_folder_dialog(self) -> None:
        self.controls.source_kind.setCurrentIndex(self.controls.source_kind.findData("folder"))
        self.controls._browse_source()

    def _open_url_dialog(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream", "RTSP or HTTP URL:", text=self.controls.url_edit.text())
        if ok and url.strip():
            self.open_source(url.strip())

    def _open_camera_dialog(self) -> None:
        index, ok = QInputDialog.getInt(self, "Open camera", "Camera index:", 0, 0, 63)
        if ok:
            self.open_source(str(index))

    def list_cameras(self) -> None:
        if self._camera_lister is not None and self._camera_lister.isRunning():
            return
        self._camera_lister = CameraLister(self)
        self._camera_lister.found.connect(self.controls.set_cameras)
        self._camera_lister.start()

    # ---- playback -----------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        self.pipeline.set_paused(not self.pipeline.paused)

    def step(self) -> None:
        self.pipeline.step()

    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)
        self.transport.set_paused(paused)

    def _on_loop(self, loop: bool) -> None:
        self.loop_action.setChecked(loop)
        self.pipeline.set_loop(loop)
        self.settings.setValue("loop", loop)

    def _on_realtime(self, realtime: bool) -> None:
        self.realtime_action.setChecked(realtime)
        self.pipeline.set_realtime(realtime)
        self.settings.setValue("realtime", realtime)

    # ---- model --------------------------------------------------------------------------------------
    def load_model(self, request: ModelRequest) -> None:
        self.pipeline.load_model(request)

    def _on_model_requested(self, request: ModelRequest) -> None:
        # --arch / --task from the command line apply to the checkpoint they came with; others are read
        if request.weights == self._cli_weights:
            request = replace(request, arch=self.arch, task=self.task)
        self.load_model(request)

    def show_zoo(self, check_online: bool = True):
        """The original model zoo: download (when online) and use a checkpoint."""
        from app.gui.zoo_dialog import ZooDialog
        if getattr(self, "zoo_dialog", None) is None:
            self.zoo_dialog = ZooDialog(self, check_online=check_online)
            self.zoo_dialog.use_requested.connect(self.controls._set_weights)
        else:
            self.zoo_dialog.refresh()
        self.zoo_dialog.open()
        return self.zoo_dialog

    def _on_model_loading(self, request: ModelRequest) -> None:
        name = Path(request.weights).name if request.weights else "default model"
        self.model_label.setText(f"loading {name}…")
        self.controls.model_info.setText(f"loading {name}…")

    def _on_model_loaded(self, detector) -> None:
        self.detector = detector
        self.stats.reset()          # the readout describes this model from now on
        self.latency.clear()
        self.controls.set_model_info(detector)
        self.device_text = device_description(detector.device)
        weights = self.pipeline.model_request.weights
        name = Path(weights).name if weights else "default model"
        self.model_label.setText(f"{name}: {detector.info.task} {detector.info.arch}")
        self.settings.setValue("weights", weights or "")
        request = self.pipeline.model_request
        self.settings.setValue("engine", engine_key(request.device, request.engine, request.precision))
        if self._banner_topic == "model":
            self.view.set_message("")
            self._banner_topic = ""

    def _on_model_failed(self, message: str) -> None:
        self._load_failed = True
        if self.detector is None:
            self.model_label.setText("model not loaded")
            self.controls.model_info.setText("no model loaded")
        else:   # the previous model stays: show its checkpoint again
            self.controls.set_weights(self.pipeline.model_request.weights)
            self.controls.set_model_info(self.detector)
        self.show_message(message, "error", sticky=True, topic="model")
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot load model", message, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("The previous model stays in use." if self.detector is not None
                               else "Frames are shown without detections until a model loads.")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()    # not exec(): the GUI thread keeps painting
        self.message_box = box

    def _on_options(self, options) -> None:
        self.pipeline.worker.set_options(options)
        if self.pipeline.paused or self.pipeline.capture is None or not self.pipeline.capture.isRunning():
            self.pipeline.worker.refresh()
        r = options.render
        self.settings.setValue("threshold", r.threshold)

    # ---- results ------------------------------------------------------------------------------------
    def _on_result(self, result) -> None:
        self.last_result = result
        f = result.frame
        self.view.show_frame(result.display if result.display is not None else result.image, result.seq,
                             (f.image.shape[1], f.image.shape[0]))
        self.transport.set_position(f.index, f.frame_count, f.timestamp_ms)

    def _on_painted(self, seq: int, painted_at: float) -> None:
        result = self.last_result
        if result is not None and result.seq == seq:
            self.stats.on_result(result)
            self.latency.add_sample(result.timings)
            self.latency.set_drawn(result.shown, self.stats.displayed)

    def _update_readout(self) -> None:
        device = self.detector.device if self.detector is not None else None
        self.latency.update_numbers(self.stats.snapshot(), self.device_text or "device: no model",
                                    memory_description(device))

    # ---- snapshot, recording, full screen -----------------------------------------------------------
    def snapshot(self) -> Path | None:
        """Save the frame on screen (with overlays) as PNG, written off the GUI thread."""
        if self.last_result is None:
            self.show_message("nothing to save yet: open a source first", "warning")
            return None
        import cv2
        image = self.last_result.image
        path = self.output_dir / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{self.last_result.frame.index:06d}.png"

        def write():
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
        QThreadPool.globalInstance().start(write)
        self.show_message(f"snapshot saved to {path}", "info")
        self.last_snapshot = path
        return path

    def toggle_recording(self) -> None:
        if self.recorder is None:
            fps = self.pipeline.source_info.fps if self.pipeline.source_info else 25.0
            path = self.output_dir / f"recording_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
            try:
                self.recorder = Recorder(path, fps)
            except Exception as e:
                self.show_message(str(e), "error")
                self.record_action.setChecked(False)
                return
            self.pipeline.worker.set_recorder(self.recorder)
            self.view.set_badge("● REC")
            self.record_action.setChecked(True)
            self.show_message(f"recording to {path}", "info")
        else:
            recorder, self.recorder = self.recorder, None
            self.pipeline.worker.set_recorder(None)
            QThreadPool.globalInstance().start(recorder.close)
            self.view.set_badge("")
            self.record_action.setChecked(False)
            self.show_message(f"recording saved to {recorder.path}", "info")
            self.last_recording = recorder.path

    def toggle_fullscreen(self) -> None:
        full = not self.isFullScreen()
        for w in (self.controls_dock, self.latency_dock, self.menuBar(), self.statusBar(), self.transport):
            w.setVisible(not full)
        self.showFullScreen() if full else self.showNormal()
        self.fullscreen_action.setChecked(full)

    def _show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts",
                                "Space  pause / play\n→  next frame\nS  snapshot (PNG)\nR  record (MP4)\n"
                                "F  full screen (Esc leaves)\nQ  quit\nCtrl+O  open a video\nCtrl+U  open a stream\n"
                                "Ctrl+M  open a checkpoint")

    # ---- shutdown -----------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if self.isFullScreen():
            self.toggle_fullscreen()
        self.save_settings()
        self.readout_timer.stop()
        if self.recorder is not None:
            self.toggle_recording()
        if self._camera_lister is not None:
            self._camera_lister.wait(1000)
        self.pipeline.shutdown(timeout_ms=1000)
        QThreadPool.globalInstance().waitForDone(2000)
        super().closeEvent(event)


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)

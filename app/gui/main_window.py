"""The window: composes the panels (panels.py), menus and shortcuts (menus.py) and settings
(window_settings.py) and reacts to the pipeline, the controls and the transport bar.

The GUI thread only paints and reacts: capture, inference and drawing run in the library's stream and the
adapter's presenter (`LivePipeline`, over `centernet.live.Stream`), checkpoints load in a loader thread,
snapshots and recordings are written off this thread.

Several sources (`WindowOptions.sources`) play through one `Stream` (one model) in a grid of tiles
(tile_grid.py): the selected tile's stream is the one the controls (threshold, classes, track, smooth, motion),
the recording, the snapshot, the heatmap (shown on the selected tile only), the seek bar and the big numbers of
the performance panel act on; the model, engine and input size are one for all, and pause / step, loop, real
time and hold frames act on every stream.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import cv2
import torch
from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QInputDialog, QMainWindow, QMessageBox

from app.gui.cameras import CameraLister
from app.gui.controls import engine_key, engine_text
from centernet.inference.config import DetectorConfig
from app.gui.menus import build_menus
from app.gui.panels import build_panels
from app.gui.live_adapter import DrawOptions, LivePipeline
from app.gui.recorder import Recorder
from app.gui.stats import PipelineStats, device_description, memory_description, stream_table, \
    tile_captions
from app.gui.theme import APP_NAME, STYLE_SHEET
from app.gui.window_settings import (default_settings, engine_given, pin_command_line, restore_settings,
                                     save_settings, stored_values)
from app.gui.zoo_dialog import ZooDialog
from centernet.errors import CenterNetError
from centernet.jobs.detect import write_image
from centernet.io.sources import CAMERA_LIST_HINT
from centernet.live import SourceInfo
from centernet.live.stream import join_all


@dataclass(frozen=True)
class WindowOptions:
    """The `gui` command's options that are not the model's (those are a DetectorConfig). None: the value the
    window had last time (its settings); given, a value wins over the settings for this run only."""

    source: str | None = None
    threshold: float | None = None
    output_dir: str | Path | None = None   # snapshots and recordings (default: Pictures/<app name>)
    load_model: bool = True
    open_last_source: bool = True
    loop: bool | None = None
    realtime: bool | None = None
    hold: bool | None = None
    track: bool | None = None
    smooth: bool | None = None
    sources: tuple[str, ...] = ()          # two or more: the grid of streams (then `source` is not used)
    connect_timeout_s: float | None = 30.0   # the grid: a source that never answered is given up after this


class MainWindow(QMainWindow):
    """See the module docstring. `config` and `options` are the `gui` command's options: where they differ from
    the defaults they win over the settings."""

    snapshot_written = pyqtSignal(object, str)   # a snapshot's path and why it was not saved ("" when it was)

    def __init__(self, config: DetectorConfig = DetectorConfig(), options: WindowOptions = WindowOptions(),
                 settings: QSettings | None = None):
        super().__init__()
        self.config, self.options = config, options   # as given; the model in use is the pipeline's model_request
        self.settings = settings if settings is not None else default_settings()
        stored = stored_values(self.settings)   # before this run writes anything: flags apply to it only
        self.setWindowTitle(APP_NAME)
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1360, 860)
        self.cuda = torch.cuda.is_available()
        self._banner_topic = ""
        self._load_failed = False
        self.output_dir = Path(options.output_dir) if options.output_dir else Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or ".") / APP_NAME
        self.stats = PipelineStats()
        self.last_result = None
        self.last_error = ""
        self.message_box: QMessageBox | None = None
        self.recorder: Recorder | None = None
        self.device_text = ""
        self.detector = None
        self._camera_lister = None
        self._background: list[threading.Thread] = []   # snapshot writes, recordings closing
        self._message_timer = QTimer(self, singleShot=True, interval=4000)
        # bound methods, not lambdas: PyQt drops a bound slot with its object, while a lambda kept by a signal of
        # a thread that outlives the window would run on a deleted window
        self._message_timer.timeout.connect(self._clear_banner)

        self.pipeline = LivePipeline(self)
        self.sources = tuple(str(s) for s in options.sources) if len(options.sources) > 1 else ()
        self.results: dict[int, object] = {}        # the grid: each stream's newest Shown
        self.stream_stats = [PipelineStats() for _ in self.sources]
        self.recording_stream = 0
        build_panels(self, len(self.sources) or 1)
        self.transport.set_streams(len(self.sources) or 1)
        if self.grid is not None:
            self.controls.toggles["heatmap"].setToolTip("The model's centre heatmap, on the selected tile")
            self.controls.set_selected_stream(0)
            self.latency_dock.setWindowTitle("Performance · tile [0]")
        build_menus(self)
        self._connect()
        o, source = options, options.source
        restore_settings(self, config, source, o.threshold)
        self._say_carried_threshold(o.threshold)
        if o.loop is not None:
            self.transport.loop_box.setChecked(o.loop)
        if o.realtime is not None:
            self.transport.realtime_box.setChecked(o.realtime)
        if o.hold is not None:
            self.transport.hold_box.setChecked(o.hold)
        if o.track is not None:
            self.controls.toggles["track"].setChecked(o.track)
        if o.smooth is not None:
            self.controls.set_smooth_flag(o.smooth)
        given = {"source": source, "weights": config.weights, "threshold": o.threshold, "loop": o.loop,
                 "toggles/track": o.track,
                 "input_size": config.input_size or (True if config.keep_res else None),
                 "engine": True if engine_given(config) else None}
        self.command_line_pins = pin_command_line(self, stored, {k for k, v in given.items() if v is not None},
                                                  source)

        self.readout_timer = QTimer(self, interval=250)
        self.readout_timer.timeout.connect(self._update_readout)
        self.readout_timer.start()

        if o.load_model:
            self.load_model(self.controls.model_request())
        if self.grid is not None:
            self.open_sources(self.sources)
            return
        spec = source if source is not None else (self.settings.value("source", "") if o.open_last_source else "")
        if spec and (source is not None or Path(str(spec)).exists()):
            self.open_source(str(spec))

    # ---- wiring -------------------------------------------------------------------------------------
    def _connect(self) -> None:
        pl, c, t = self.pipeline, self.controls, self.transport
        pl.result_ready.connect(self._on_result)
        pl.source_opened.connect(self._on_source_opened)
        pl.source_failed.connect(self._on_source_failed)
        pl.status.connect(self._on_status)
        pl.reconnected.connect(self._message_timer.start)
        pl.paused_changed.connect(self._on_paused_changed)
        pl.model_loading.connect(self._on_model_loading)
        pl.model_loaded.connect(self._on_model_loaded)
        pl.model_failed.connect(self._on_model_failed)
        pl.error.connect(self._show_error)
        self.snapshot_written.connect(self._on_snapshot_written)
        if self.grid is None:
            self.view.frame_painted.connect(self._on_painted)
        else:
            for tile in self.grid.tiles:
                tile.view.frame_painted.connect(partial(self._on_tile_painted, tile.index))
            self.grid.selection_changed.connect(self._on_tile_selected)
            pl.stream_status.connect(self._on_stream_status)
        c.source_requested.connect(self.open_source)
        c.model_requested.connect(self._on_model_requested)
        c.options_changed.connect(self._on_options)
        c.cameras_wanted.connect(self.list_cameras)
        t.play_toggled.connect(self.toggle_pause)
        t.step_clicked.connect(self.step)
        t.seek_requested.connect(self.seek)
        t.loop_toggled.connect(self._on_loop)
        t.realtime_toggled.connect(self._on_realtime)
        t.hold_toggled.connect(self._on_hold)

    def save_settings(self) -> None:
        save_settings(self)

    # ---- sources ------------------------------------------------------------------------------------
    def open_source(self, spec: str) -> None:
        spec = str(spec).strip()
        if not spec:
            return
        if self.grid is not None:   # the Source panel in the grid: the selected tile's source (one stream: all anew)
            sources = list(self.sources)
            sources[self.grid.selected] = spec
            self.sources = tuple(sources)
            self.open_sources(self.sources, self._stream_draws())   # every tile keeps its own options
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

    def open_sources(self, specs, draws: Sequence[DrawOptions] | None = None) -> None:
        """The grid: every source through one stream, one tile each; `draws`, each stream's options (None: every
        stream starts as the controls are set)."""
        self.stats = self.stream_stats[self.grid.selected]
        for stats in self.stream_stats:
            stats.reset()
        self.latency.clear()
        self.last_result = None
        self.results = {}
        self.pipeline.connect_timeout_s = self.options.connect_timeout_s
        if draws is None:
            draws = [self.controls.draw_options()] * len(specs)
        for tile in self.grid.tiles:
            tile.view.clear()
            self.grid.set_caption(tile.index, f"[{tile.index}] {source_name(specs[tile.index])} · connecting")
        self.controls.set_source(specs[self.grid.selected])
        self.source_label.setText(f"{len(specs)} streams")
        self.setWindowTitle(f"{len(specs)} streams: {', '.join(source_name(s) for s in specs)} — {APP_NAME}")
        self.transport.set_source(None, False)
        self.pipeline.open_sources(specs, self._heatmap_on_selected_tile(draws))
        self.pause_action.setChecked(False)
        self.transport.set_paused(False)

    def _on_tile_selected(self, index: int) -> None:
        """The controls, the seek bar and the big numbers now show stream `index`; the heatmap, when on, moves to
        its tile."""
        self._set_stream_draws(self._stream_draws())
        self.stats = self.stream_stats[index]
        self.latency.clear()
        self.latency_dock.setWindowTitle(f"Performance · tile [{index}]")
        self.controls.set_selected_stream(index)
        self.controls.show_options(self.pipeline.draw_of(index))
        self.controls.set_source(self.sources[index])
        self._show_stream_source(index)
        self.last_result = self.results.get(index)
        if self.last_result is not None:
            f = self.last_result.frame
            self.transport.set_position(f.index, f.frame_count, f.timestamp_ms, index)

    def _show_stream_source(self, index: int) -> None:
        """The grid: the seek bar and the status bar follow the selected stream's source."""
        stream = self.pipeline.stream
        info = stream.infos[index] if stream is not None and index < len(stream.infos) else None
        if info is None:
            self.transport.set_source(None, False)
            self.source_label.setText(f"{len(self.sources)} streams")
            return
        self.transport.set_source(info.frame_count, info.seekable)
        self.source_label.setText(f"{len(self.sources)} streams · [{index}] {info.describe()}")

    def _on_stream_status(self, index: int, kind: str, message: str) -> None:
        """The grid: a stream's event goes on its own tile (the tile's caption says its phase)."""
        view = self.grid.view(index)
        if kind == "opened":
            view.set_message("")
            if index == self.grid.selected:
                self._show_stream_source(index)
        elif kind == "failed":
            view.set_message(message, "error")
        else:
            view.set_message(message, "info" if message.startswith("reconnected") else "warning")

    def escape(self) -> None:
        """Esc: leave full screen, else the enlarged tile back to the grid."""
        if self.isFullScreen():
            self.toggle_fullscreen()
        elif self.grid is not None:
            self.grid.show_grid()

    def _on_source_opened(self, info: SourceInfo) -> None:
        if self.grid is not None:    # each stream's opening is its tile's (_on_stream_status)
            return
        if self._banner_topic == "source":
            self._set_banner("")
            self.statusBar().clearMessage()
        self.source_label.setText(info.describe())
        name = info.spec if info.kind in ("stream", "camera") else Path(info.spec).name
        self.setWindowTitle(f"{name} — {APP_NAME}")
        self.transport.set_source(info.frame_count, info.seekable)

    def _on_source_failed(self, message: str) -> None:
        message = message.replace(CAMERA_LIST_HINT, "the ⟳ button in the Source panel lists them")
        self.source_label.setText("no source")
        self.view.clear()
        self.show_message(message, "error", sticky=True, topic="source")

    def _on_status(self, message: str) -> None:
        level = "info" if message.startswith("reconnected") else "warning"
        topic = "end" if message.startswith("end of") else "source"
        self.show_message(message, level, sticky=level == "warning", topic=topic)

    def _clear_end_message(self) -> None:
        """Play, step or seek after the end: the end message is stale."""
        if self._banner_topic == "end":
            self._set_banner("")
            self.statusBar().clearMessage()
            self._banner_topic = ""

    def show_message(self, message: str, level: str = "info", sticky: bool = False, topic: str = "") -> None:
        """A banner over the video and the status bar; errors are kept in `last_error`."""
        if level == "error":
            self.last_error = message
        self._banner_topic = topic
        self._set_banner(message, level)
        self.statusBar().showMessage(message, 0 if sticky else 6000)
        if sticky:
            self._message_timer.stop()
        else:
            self._message_timer.start()

    def _set_banner(self, message: str, level: str = "info") -> None:
        """The window's own message over the video; in the grid only in the status bar (a tile's banner is its
        stream's: reconnecting, failed)."""
        if self.grid is None:
            self.view.set_message(message, level)

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
        self._clear_end_message()
        self.pipeline.step()

    def seek(self, index: int) -> None:
        """The seek bar: the selected stream's own position in the grid."""
        self._clear_end_message()
        self.pipeline.seek(index, stream=self.grid.selected if self.grid is not None else None)

    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)
        self.transport.set_paused(paused)
        if not paused:
            self._clear_end_message()

    def _on_loop(self, loop: bool) -> None:
        self.loop_action.setChecked(loop)
        self.pipeline.set_loop(loop)
        self.settings.setValue("loop", loop)

    def _on_hold(self, hold: bool) -> None:
        self.pipeline.set_hold(hold)

    def _on_realtime(self, realtime: bool) -> None:
        self.realtime_action.setChecked(realtime)
        self.pipeline.set_realtime(realtime)

    # ---- model --------------------------------------------------------------------------------------
    def load_model(self, request: DetectorConfig) -> None:
        self.pipeline.load_model(request)

    def _on_model_requested(self, request: DetectorConfig) -> None:
        self.load_model(request)

    def show_zoo(self, check_online: bool = True):
        """The original model zoo: download (when online) and use a checkpoint."""
        if getattr(self, "zoo_dialog", None) is None:
            self.zoo_dialog = ZooDialog(self, check_online=check_online)
            self.zoo_dialog.use_requested.connect(self.controls._set_weights)
        else:
            self.zoo_dialog.refresh()
        self.zoo_dialog.open()
        return self.zoo_dialog

    def _on_model_loading(self, request: DetectorConfig) -> None:
        name = Path(request.weights).name if request.weights else "default model"
        self.model_label.setText(f"loading {name}…")
        self.controls.model_info.setText(f"loading {name}…")

    def _on_model_loaded(self, detector) -> None:
        self.detector = detector
        for stats in {self.stats, *self.stream_stats}:   # the readout describes this model from now on
            stats.reset()
        self.latency.clear()
        self._set_model_info(detector)
        self.device_text = f"{device_description(detector.device)} · engine {engine_text(detector)}"
        weights = self.pipeline.model_request.weights
        name = Path(weights).name if weights else "default model"
        self.model_label.setText(f"{name}: {detector.info.task} {detector.info.arch}")
        self.settings.setValue("weights", weights or "")
        request = self.pipeline.model_request
        self.settings.setValue("engine", engine_key(request.device, request.engine, request.precision))
        if self._banner_topic == "model":
            self._set_banner("")
            self._banner_topic = ""

    def _on_model_failed(self, message: str) -> None:
        self._load_failed = True
        if self.detector is None:
            self.model_label.setText("model not loaded")
            self.controls.model_info.setText("no model loaded")
        else:   # the previous model stays: show its checkpoint again
            self.controls.set_weights(self.pipeline.model_request.weights)
            self._set_model_info(self.detector)
        self.show_message(message, "error", sticky=True, topic="model")
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot load model", message, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("The previous model stays in use." if self.detector is not None
                               else "Frames are shown without detections until a model loads.")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()    # not exec(): the GUI thread keeps painting
        self.message_box = box

    def _set_model_info(self, detector) -> None:
        """A model's task sets the toggles that apply to it: for every stream of a grid, each keeping its own
        threshold and classes."""
        self.controls.set_model_info(detector, emit=False)
        self._on_options(self.controls.draw_options(), every_stream=True)

    def _on_options(self, options: DrawOptions, every_stream: bool = False) -> None:
        """The controls' options: the selected stream's (the user's change); `every_stream`, the other streams of
        a grid take its toggles too, each keeping its own threshold and classes."""
        if self.grid is None:
            self.pipeline.set_options(options)
        else:
            draws = self._stream_draws()
            for i, own in enumerate(draws):
                if i == self.grid.selected:
                    draws[i] = options
                elif every_stream:
                    draws[i] = replace(options, render=replace(options.render, threshold=own.render.threshold,
                                                                classes=own.render.classes))
            self._set_stream_draws(draws)
        self.settings.setValue("threshold", options.render.threshold)

    # ---- each stream's options (the grid) ------------------------------------------------------------
    def _stream_draws(self) -> list[DrawOptions]:
        return [self.pipeline.draw_of(i) for i in range(len(self.sources))]

    def _heatmap_on_selected_tile(self, draws: Sequence[DrawOptions]) -> list[DrawOptions]:
        """The one place of the rule: the heatmap shows on the selected tile only (when its toggle is on)."""
        heatmap = self.controls.toggles["heatmap"].isChecked()
        return [replace(draw, heatmap=heatmap and i == self.grid.selected) for i, draw in enumerate(draws)]

    def _set_stream_draws(self, draws: Sequence[DrawOptions]) -> None:
        """Each stream of the grid its options under the rule above (only those that change)."""
        for i, draw in enumerate(self._heatmap_on_selected_tile(draws)):
            if draw != self.pipeline.draw_of(i):
                self.pipeline.set_options(draw, stream=i)

    # ---- results ------------------------------------------------------------------------------------
    def _on_result(self, result) -> None:
        f = result.frame
        if self.grid is not None:
            index = result.result.stream
            self.results[index] = result
            self.grid.show_frame(index, result.display, result.seq, (f.image.shape[1], f.image.shape[0]))
            if index != self.grid.selected:
                return
        self.last_result = result
        if self.grid is None:
            self.view.show_frame(result.display, result.seq, (f.image.shape[1], f.image.shape[0]))
        self.transport.set_position(f.index, f.frame_count, f.timestamp_ms,
                                    self.grid.selected if self.grid is not None else None)

    def _on_tile_painted(self, index: int, seq: int, painted_at: float) -> None:
        result = self.results.get(index)
        if result is not None and result.seq == seq:
            self.stream_stats[index].on_result(result)
            if index == self.grid.selected:
                self.latency.add_sample(result.timings)
                self.latency.set_drawn(result.shown, self.stats.displayed)

    def _on_painted(self, seq: int, painted_at: float) -> None:
        result = self.last_result
        if result is not None and result.seq == seq:
            self.stats.on_result(result)
            self.latency.add_sample(result.timings)
            self.latency.set_drawn(result.shown, self.stats.displayed)

    def _clear_banner(self) -> None:
        self._set_banner("")
        self._banner_topic = ""

    def _show_error(self, message: str) -> None:
        self.show_message(message, "error")

    def _say_carried_threshold(self, given: float | None) -> None:
        """A threshold dragged in an earlier run carries over: the readout says so until the slider moves."""
        carried = self.controls.threshold
        if given is None and self.settings.value("threshold") is not None and abs(carried - 0.3) > 1e-6:
            self.latency.threshold_note = f"threshold {carried:.2f} from the last session"
            self.latency.set_drawn(0, 0)
            self.controls.threshold_slider.valueChanged.connect(self._forget_carried_threshold)

    def _forget_carried_threshold(self) -> None:
        self.latency.threshold_note = ""
        self.controls.threshold_slider.valueChanged.disconnect(self._forget_carried_threshold)

    def _update_readout(self) -> None:
        device = self.detector.device if self.detector is not None else None
        self.latency.update_numbers(self.stats.snapshot(), self.device_text or "device: no model",
                                    memory_description(device))
        self.latency.set_runs_at_once(self.pipeline.runs_at_once())
        if self.grid is not None:
            statuses = self.pipeline.statuses()
            phases = [s.phase for s in statuses] if statuses else ["connecting"] * len(self.sources)
            names = [source_name(s) for s in self.sources]
            for i, line in enumerate(tile_captions(self.stream_stats, names, phases)):
                self.grid.set_caption(i, line)
            self.latency.set_streams(stream_table(self.stream_stats, phases))

    # ---- snapshot, recording, full screen -----------------------------------------------------------
    def snapshot(self) -> Path | None:
        """Save the frame on screen (with overlays) as PNG, written off the GUI thread; the status bar says when it
        is saved, or why it could not be (`snapshot_written`)."""
        if self.last_result is None:
            self.show_message("nothing to save yet: open a source first", "warning")
            return None
        image = self.last_result.image
        path = self.output_dir / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{self.last_result.frame.index:06d}.png"
        self._in_background(partial(write_snapshot, path, image, self.snapshot_written.emit), "snapshot")
        self.last_snapshot = path
        return path

    def _on_snapshot_written(self, path: Path, error: str) -> None:
        if error:
            self.show_message(f"snapshot not saved: {error}", "error")
        else:
            self.show_message(f"snapshot saved to {path}", "info")

    def toggle_recording(self) -> None:
        if self.recorder is None:
            stream = self.grid.selected if self.grid is not None else 0
            info = self.pipeline.stream.infos[stream] if self.pipeline.stream is not None else None
            fps = info.fps if info is not None and info.fps else 25.0
            path = self.output_dir / f"recording_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
            try:
                self.recorder = Recorder(path, fps)
            except Exception as e:
                self.show_message(str(e), "error")
                self.record_action.setChecked(False)
                return
            self.recording_stream = stream
            self.pipeline.set_recorder(self.recorder, stream=stream)
            self._recording_view().set_badge("● REC")
            self.record_action.setChecked(True)
            self.show_message(f"recording to {path}", "info")
        else:
            recorder, self.recorder = self.recorder, None
            self.pipeline.set_recorder(None, stream=self.recording_stream)
            self._in_background(recorder.close, "recording-close")
            self._recording_view().set_badge("")
            self.record_action.setChecked(False)
            if recorder.frames:
                self.show_message(f"recording saved to {recorder.path}", "info")
                self.last_recording = recorder.path
            else:   # no frame came while recording: no file was ever written
                self.show_message("recording stopped: no frame was recorded, nothing saved", "warning")

    def _in_background(self, work: Callable[[], None], name: str) -> None:
        """Run `work` off the GUI thread, in a thread Python starts: Python code in a thread Qt starts (a QThreadPool
        runnable, a QThread) ends through PyGILState_Release, which on Python 3.11 can corrupt the heap (see
        ModelLoader)."""
        thread = threading.Thread(target=work, name=name, daemon=True)
        self._background = [*(t for t in self._background if t.is_alive()), thread]
        thread.start()

    def finish_background(self, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for the snapshot writes and recordings closing under way; True when done."""
        return join_all(self._background, timeout_s)

    def _recording_view(self):
        return self.grid.view(self.recording_stream) if self.grid is not None else self.view

    def toggle_fullscreen(self) -> None:
        full = not self.isFullScreen()
        for w in (self.controls_dock, self.latency_dock, self.menuBar(), self.statusBar(), self.transport):
            w.setVisible(not full)
        self.showFullScreen() if full else self.showNormal()
        self.fullscreen_action.setChecked(full)

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
        self.finish_background(2.0)
        super().closeEvent(event)


def write_snapshot(path: Path, image, done: Callable[[Path, str], None]) -> None:
    """Write a snapshot (off the GUI thread, whole then renamed: a viewer never reads half a PNG), then tell
    `done` why it could not be written, or "" when it was: a failure is the user's to fix, not a crash."""
    try:
        write_image(path, image, fix="free space or make that folder writable")
    except CenterNetError as e:
        done(path, str(e))
    except cv2.error as e:   # a frame OpenCV cannot encode
        done(path, f"could not encode {path.name}: {e.err}")
    else:
        done(path, "")


def source_name(spec: str) -> str:
    """A tile's name for its source: a file's name, a URL or camera index whole."""
    return spec if "://" in spec or spec.isdigit() else Path(spec).name

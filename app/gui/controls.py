"""The side panel (source, model, display options) and the transport bar under the video."""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from PyQt6.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QCompleter, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout,
                             QLabel, QLineEdit, QPushButton, QSizePolicy, QSlider, QStackedWidget, QStyle,
                             QStyleOptionSlider, QToolButton, QVBoxLayout, QWidget)

from centernet.classes import parse_classes
from centernet.errors import InputError
from centernet.inference.config import DetectorConfig
from centernet.inference.backends.base import Workload
from centernet.inference.backends.registry import AUTO, BACKENDS, unsupported_reason
from centernet.io.render import RenderOptions
from centernet.tracking.live import LiveTrackingOptions, smoothing_default

from app.gui.live_adapter import DrawOptions

SOURCE_KINDS = (("file", "Video or image file"), ("folder", "Image folder"), ("camera", "Camera"),
                ("url", "Stream URL"))
INPUT_SIZES = (256, 320, 384, 448, 512, 640, 768)
VIDEO_FILTER = ("Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.ts *.jpg *.jpeg *.png *.bmp)"
                ";;All files (*)")
TOGGLES = (("boxes", "Boxes"), ("labels", "Labels"), ("skeleton", "Skeleton"), ("cuboids", "3D cuboids"),
           ("heatmap", "Heatmap"), ("track", "Track ids"), ("smooth", "Smooth"), ("motion", "Motion"))
TOGGLE_TIPS = {"track": "Follow each object from frame to frame (ByteTrack, as annotate --track): ids and trails",
               "smooth": "Steady boxes and skeletons (One-Euro filter per track); annotations stay raw",
               # plain-text tooltips do not wrap: a long one runs across the whole video
               "motion": "On frames the model skipped, each box moves to where its object is now\n"
                         "(optical flow; along its track where the flow fails; none after a cut,\n"
                         "until the model runs again). Off: the last run's boxes, unmoved"}
TOGGLES_OFF = {"heatmap", "track"}            # off until switched on; "smooth" depends on the task
ALWAYS = {"boxes", "labels", "heatmap", "track", "smooth", "motion"}
TASK_TOGGLES = {"ctdet": ALWAYS, "multi_pose": ALWAYS | {"skeleton"}, "ddd": ALWAYS | {"cuboids"}}


def parse_class_filter(text: str, class_names) -> frozenset | None:
    """'person, car' or '0,2' -> class indices; empty -> None (all). InputError names a bad entry."""
    return parse_classes(text.replace(";", ","), class_names) if text.strip() else None


def _row(*widgets, stretch_index: int | None = None) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(6)
    for i, w in enumerate(widgets):
        row.addWidget(w, 1 if i == stretch_index else 0)
    return row


DEVICE_LABELS = {"cpu": "CPU", "cuda": "CUDA"}
NO_NATIVE_BF16 = "this CPU has no native bfloat16 (AVX512-BF16/AMX): bf16 would run slower than fp32"


def engine_entries(cuda: bool, cpu_bf16: bool, installed: Mapping[str, bool]) -> list[tuple[str, tuple, str | None]]:
    """The engine menu, in order, from the registry: (label, (device, engine, precision), why it cannot run or
    None). Per device (CUDA first where there is one): auto, then every registered backend at each precision it
    runs there; a backend this machine cannot offer at all appears once, with its reason. The first entry is
    the CPU's auto, which always runs."""
    out: list[tuple[str, tuple, str | None]] = []
    devices = ("cpu", "cuda") if cuda else ("cpu",)
    for device in devices:
        precisions = ("fp16", "bf16", "fp32") if device == "cuda" else ("bf16", "fp32") if cpu_bf16 else ("fp32",)
        for p in precisions:
            out.append((f"{DEVICE_LABELS[device]} · {p} · {AUTO} (fastest engine{', timed once' if device == 'cpu' else ''})",
                        (device, AUTO, p), None))
        for kind in BACKENDS.values():
            for p in kind.precisions:
                if device in kind.devices and (device == "cuda" or p != "fp16"):
                    why = kind.unsupported_reason(Workload(device, p, installed=installed))
                    if device == "cpu" and p == "bf16" and not cpu_bf16:
                        why = why or NO_NATIVE_BF16
                    out.append((f"{DEVICE_LABELS[device]} · {p} {kind.label}", (device, kind.name, p), why))
    for kind in BACKENDS.values():   # backends that need a device this machine lacks
        if not any(d in devices for d in kind.devices):
            device, p = kind.devices[0], "fp32" if "fp32" in kind.precisions else kind.precisions[0]
            why = kind.unsupported_reason(Workload("cpu", p, installed=installed))
            out.append((f"{DEVICE_LABELS[device]} · {p} {kind.label}", (device, kind.name, p),
                        why or f"needs a {DEVICE_LABELS[device]} device"))
    return out


def engine_text(detector) -> str:
    """What runs, for the readout and the menu: 'auto: OpenVINO bf16, fastest of 3, 24 ms/forward'."""
    b = detector.backend
    kind = BACKENDS.get(b.name)
    what = f"{kind.label if kind else b.name} {b.precision}"
    return f"{AUTO}: {what}, {b.note}" if detector.engine_asked == AUTO else what


def engine_key(device: str, engine: str, precision: str) -> str:
    """One engine entry as the settings keep it: 'cuda/graph/fp16'."""
    return f"{device.split(':')[0]}/{engine}/{precision}"


class Controls(QWidget):
    """Emits what the user asks for; the window decides what to do with it."""

    source_requested = pyqtSignal(str)
    model_requested = pyqtSignal(object)     # DetectorConfig
    options_changed = pyqtSignal(object)     # DrawOptions
    cameras_wanted = pyqtSignal()

    def __init__(self, config: DetectorConfig = DetectorConfig(), cuda: bool = False, cpu_bf16: bool = False,
                 installed: Mapping[str, bool] | None = None, parent=None):
        """`config`: the model the command line asked for; the panel holds it whole and replaces the fields the
        user changes (checkpoint, engine, precision, input size, flip), so the fields it does not show (scales,
        calib) travel on untouched. installed: backend name -> its runtime is importable
        (registry.installed_runtimes(); None: none)."""
        super().__init__(parent)
        self.setObjectName("controls")
        self.given = config                       # --arch / --task apply to the checkpoint they came with
        self.config = config
        self.class_names: tuple = ()
        self.task = "ctdet"
        self.smooth_by_task: dict[str, bool] = {}   # the Smooth toggle as last set for each task
        self.smooth_flag: bool | None = None      # --smooth / --no-smooth: this run, every task, until toggled
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        self.source_box = self._source_group()
        layout.addWidget(self.source_box)
        self.cuda, self.cpu_bf16, self.installed = cuda, cpu_bf16, dict(installed or {})
        layout.addWidget(self._model_group(cuda, cpu_bf16, self.installed))
        self.display_box = self._display_group()
        layout.addWidget(self.display_box)
        layout.addStretch(1)

    def set_selected_stream(self, stream: int | None) -> None:
        """The grid: the Source and Display panels name the tile they act on (None: one source, plain titles);
        the model is one for every stream."""
        which = f" · tile [{stream}]" if stream is not None else ""
        self.source_box.setTitle(f"Source{which}")
        self.display_box.setTitle(f"Display{which}")

    # ---- source -------------------------------------------------------------------------------------
    def _source_group(self) -> QGroupBox:
        group = QGroupBox("Source")
        v = QVBoxLayout(group)
        self.source_kind = QComboBox()
        for key, text in SOURCE_KINDS:
            self.source_kind.addItem(text, key)
        self.source_stack = QStackedWidget()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("path to a video, image or folder")
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Browse")
        path_page = QWidget()
        path_page.setLayout(_row(self.source_edit, self.browse_button, stretch_index=0))
        path_page.layout().setContentsMargins(0, 0, 0, 0)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("rtsp://… or http://…/stream.mjpg")
        self.camera_combo = QComboBox()
        self.camera_combo.setEditable(True)
        self.camera_combo.addItem("0")
        self.camera_combo.setToolTip("Camera index (refresh to list the cameras OpenCV can open)")
        self.camera_refresh = QToolButton()
        self.camera_refresh.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.camera_refresh.setToolTip("List cameras")
        cam_page = QWidget()
        cam_page.setLayout(_row(self.camera_combo, self.camera_refresh, stretch_index=0))
        cam_page.layout().setContentsMargins(0, 0, 0, 0)
        self.source_stack.addWidget(path_page)
        self.source_stack.addWidget(cam_page)
        self.source_stack.addWidget(self.url_edit)
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("primary")
        self.open_button.setDefault(True)
        v.addLayout(_row(self.source_kind, self.open_button, stretch_index=0))
        v.addWidget(self.source_stack)
        self.source_kind.currentIndexChanged.connect(self._on_kind)
        self.browse_button.clicked.connect(self._browse_source)
        self.camera_refresh.clicked.connect(self.cameras_wanted)
        self.open_button.clicked.connect(self._open_clicked)
        for edit in (self.source_edit, self.url_edit):
            edit.returnPressed.connect(self._open_clicked)
        return group

    def _on_kind(self) -> None:
        kind = self.source_kind.currentData()
        self.source_stack.setCurrentIndex({"file": 0, "folder": 0, "camera": 1, "url": 2}[kind])
        self.source_edit.setPlaceholderText("path to an image folder" if kind == "folder"
                                            else "path to a video or image file")

    def _browse_source(self) -> None:
        if self.source_kind.currentData() == "folder":
            path = QFileDialog.getExistingDirectory(self, "Open image folder", self.source_edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Open video or image", self.source_edit.text(), VIDEO_FILTER)
        if path:
            self.source_edit.setText(path)
            self._open_clicked()

    def current_source(self) -> str:
        kind = self.source_kind.currentData()
        if kind == "camera":
            return self.camera_combo.currentText().split(" ")[0].strip()
        if kind == "url":
            return self.url_edit.text().strip()
        return self.source_edit.text().strip()

    def set_source(self, spec: str) -> None:
        """Show `spec` in the right input (camera index, URL, folder or file)."""
        from pathlib import Path
        spec = str(spec)
        if spec.isdigit():
            kind = "camera"
            self.camera_combo.setCurrentText(spec)
        elif "://" in spec:
            kind = "url"
            self.url_edit.setText(spec)
        else:
            kind = "folder" if Path(spec).is_dir() else "file"
            self.source_edit.setText(spec)
        self.source_kind.setCurrentIndex(self.source_kind.findData(kind))

    def set_cameras(self, cameras: list[int]) -> None:
        current = self.camera_combo.currentText()
        self.camera_combo.clear()
        for index in cameras or [0]:
            self.camera_combo.addItem(str(index))
        self.camera_combo.setCurrentText(current if current else "0")
        self.camera_combo.setToolTip(f"cameras found: {', '.join(map(str, cameras))}" if cameras
                                     else "no camera found (you can still type an index)")

    def _open_clicked(self) -> None:
        spec = self.current_source()
        if spec:
            self.source_requested.emit(spec)

    # ---- model --------------------------------------------------------------------------------------
    def _model_group(self, cuda: bool, cpu_bf16: bool, installed: Mapping[str, bool]) -> QGroupBox:
        group = QGroupBox("Model")
        grid = QGridLayout(group)
        grid.setColumnStretch(1, 1)
        self.weights_edit = QLineEdit()
        self.weights_edit.setReadOnly(True)
        self.weights_edit.setPlaceholderText("shipped default model")
        self.weights_button = QToolButton()
        self.weights_button.setText("…")
        self.weights_button.setToolTip("Open a checkpoint (.pth): original model zoo or ours")
        self.default_button = QToolButton()
        self.default_button.setText("Default")
        self.default_button.setToolTip("Use the shipped default model for the task")
        grid.addWidget(QLabel("Checkpoint"), 0, 0)
        grid.addLayout(_row(self.weights_edit, self.weights_button, self.default_button, stretch_index=0), 0, 1)
        self.model_info = QLabel("no model loaded")
        self.model_info.setObjectName("hint")
        self.model_info.setWordWrap(True)
        grid.addWidget(self.model_info, 1, 0, 1, 2)
        self.input_size = QComboBox()
        self.input_size.addItem("checkpoint's", None)
        for n in INPUT_SIZES:
            self.input_size.addItem(f"{n} × {n}", (n, n))
        self.input_size.addItem("keep resolution", "keep")
        self.input_size.setToolTip("Network input size: smaller is faster, larger finds smaller objects")
        grid.addWidget(QLabel("Input"), 2, 0)
        grid.addWidget(self.input_size, 2, 1)
        self.engine = QComboBox()
        # entries carry why they cannot run and what auto picked: long texts; the panel keeps its width, the
        # full text shows in the open list and the tooltip
        self.engine.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.engine.setMinimumContentsLength(24)
        self.engine_labels: list[str] = []
        for label, data, why in engine_entries(cuda, cpu_bf16, installed):
            self.engine.addItem(label, data)
            self.engine_labels.append(label)
            self._set_entry_reason(self.engine.count() - 1, why)
        entries = [self.engine.itemData(i) for i in range(self.engine.count())]  # findData compares tuples by identity
        self.engine.setCurrentIndex(entries.index(("cuda", AUTO, "fp16")) if cuda else 0)  # GPU default: auto fp16
        self.engine.setToolTip("Device, engine and precision: every registered engine; one that cannot run "
                               "the model says why")
        grid.addWidget(QLabel("Engine"), 3, 0)
        grid.addWidget(self.engine, 3, 1)
        self.flip = QCheckBox("Flip test (average with the mirrored image)")
        grid.addWidget(self.flip, 4, 0, 1, 2)
        self.weights_button.clicked.connect(self._browse_weights)
        self.default_button.clicked.connect(lambda: self._set_weights(None))
        self.input_size.currentIndexChanged.connect(self._emit_model)
        self.engine.currentIndexChanged.connect(self._emit_model)
        self.flip.toggled.connect(self._emit_model)
        return group

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", self.weights or "",
                                              "PyTorch checkpoints (*.pth *.pt *.ckpt);;All files (*)")
        if path:
            self._set_weights(path)

    def _set_weights(self, path: str | None) -> None:
        self.set_weights(path)
        self._emit_model()

    @property
    def weights(self) -> str | None:
        return self.config.weights

    def set_weights(self, path: str | None) -> None:
        """A checkpoint: the command line's --arch / --task go with the checkpoint they came with, else they are
        read from the file."""
        path = path or None
        given = self.given if path == self.given.weights else DetectorConfig()
        self.config = replace(self.config, weights=path, arch=given.arch, task=given.task)
        self.weights_edit.setText(path or "")
        self.weights_edit.setToolTip(path or "shipped default model")

    def set_input_size(self, size) -> None:
        """None (checkpoint's), (h, w) or 'keep'; adds a custom size to the list when needed."""
        index = self.input_size.findData(tuple(size) if isinstance(size, (list, tuple)) else size)
        if index < 0:
            self.input_size.addItem(f"{size[0]} × {size[1]}", tuple(size))
            index = self.input_size.count() - 1
        with QSignalBlocker(self.input_size):
            self.input_size.setCurrentIndex(index)

    def set_device(self, device: str) -> None:
        """The first entry on `device`, unless the chosen one is on it already (--device cuda keeps a saved bf16)."""
        kind = device.split(":")[0]
        if self.engine.currentData()[0] == kind:
            return
        index = next((i for i in range(self.engine.count()) if self.engine.itemData(i)[0] == kind and self._usable(i)),
                     -1)
        if index >= 0:
            with QSignalBlocker(self.engine):
                self.engine.setCurrentIndex(index)

    def set_engine(self, engine: str, precision: str) -> None:
        """Select the entry for an engine and precision (from the command line) when this machine offers it."""
        for i in range(self.engine.count()):
            _, e, p = self.engine.itemData(i)
            if p == precision and (e == engine or engine == AUTO) and self._usable(i):
                with QSignalBlocker(self.engine):
                    self.engine.setCurrentIndex(i)
                return

    def engine_choice(self) -> str:
        """The chosen entry as 'device/engine/precision', the form the settings keep."""
        return engine_key(*self.engine.currentData())

    def set_engine_choice(self, choice: str) -> bool:
        """Select a saved entry; False when this machine does not offer it (a GPU entry without CUDA)."""
        for i in range(self.engine.count()):
            if engine_key(*self.engine.itemData(i)) == choice and self._usable(i):
                with QSignalBlocker(self.engine):
                    self.engine.setCurrentIndex(i)
                return True
        return False

    def _usable(self, i: int) -> bool:
        return self.engine.model().item(i).isEnabled()

    def _set_entry_reason(self, i: int, why: str | None) -> None:
        """Enable an engine entry, or disable it with the reason it cannot run (in its text and tooltip)."""
        self.engine.model().item(i).setEnabled(why is None)
        self.engine.setItemText(i, self.engine_labels[i] if why is None else f"{self.engine_labels[i]} — {why}")
        self.engine.setItemData(i, why or "", Qt.ItemDataRole.ToolTipRole)

    def set_engine_reasons(self, detector) -> None:
        """After a model loads: which entries can run it (its task, decoding, sizes, convolutions) and why not;
        the chosen entry names what runs ('auto: OpenVINO bf16, fastest of 3, 24 ms/forward')."""
        running = (detector.device.type, detector.engine_asked, detector.precision_asked)
        for i in range(self.engine.count()):
            device, engine, precision = self.engine.itemData(i)
            why = unsupported_reason(engine, replace(detector.workload(precision, device), installed=self.installed))
            if why is None and device == "cpu" and precision == "bf16" and not self.cpu_bf16:
                why = NO_NATIVE_BF16
            if why is None and device == "cuda" and not self.cuda:
                why = f"needs a {DEVICE_LABELS[device]} device"
            if (device, engine, precision) == running:
                with QSignalBlocker(self.engine):
                    self._set_entry_reason(i, None)
                    if engine == AUTO:
                        self.engine.setItemText(i, f"{self.engine_labels[i]} — {engine_text(detector)}")
                continue
            with QSignalBlocker(self.engine):
                self._set_entry_reason(i, why)

    def model_request(self) -> DetectorConfig:
        """The config the panel holds, with the engine, precision, input size and flip the widgets show now."""
        size = self.input_size.currentData()
        device, engine, precision = self.engine.currentData()
        self.config = replace(self.config, device=device, engine=engine, precision=precision,
                              flip=self.flip.isChecked(), input_size=size if isinstance(size, tuple) else None,
                              keep_res=size == "keep")
        return self.config

    def _emit_model(self) -> None:
        self.model_requested.emit(self.model_request())

    def set_model_info(self, detector, emit: bool = True) -> None:
        """Show what the checkpoint is; enable the toggles that apply to its task; class names for the filter.
        `emit`: False when the caller applies `draw_options()` itself (the grid: to every stream)."""
        info = detector.info
        h, w = detector.spec.input_size
        size = "keep res" if detector.spec.keep_res else f"{h}×{w}"
        self.model_info.setText(f"{info.task} · {info.arch} · {info.classes_text} · input {size} · "
                                f"{info.format} format · {detector.device}")
        self.flip.setEnabled(info.decode.get("rule", "centernet") == "centernet")
        self.set_engine_reasons(detector)
        self.set_task(info.task, info.class_names, emit)

    def set_task(self, task: str, class_names, emit: bool = True) -> None:
        self.task = task
        self.class_names = tuple(class_names)
        allowed = TASK_TOGGLES.get(task, {"boxes", "labels"})
        for key, box in self.toggles.items():
            box.setEnabled(key in allowed)
            box.setToolTip(TOGGLE_TIPS.get(key, "") if key in allowed else f"not available for {task} models")
        with QSignalBlocker(self.toggles["smooth"]):
            self.toggles["smooth"].setChecked(self.smooth_for(task))
        self.class_filter.setCompleter(QCompleter(list(self.class_names), self.class_filter))
        if emit:
            self._emit_options()

    # ---- display ------------------------------------------------------------------------------------
    def _display_group(self) -> QGroupBox:
        group = QGroupBox("Display")
        v = QVBoxLayout(group)
        grid = QGridLayout()
        self.toggles: dict[str, QCheckBox] = {}
        for i, (key, text) in enumerate(TOGGLES):
            box = QCheckBox(text)
            box.setChecked(key not in TOGGLES_OFF if key != "smooth" else smoothing_default(self.task))
            box.setToolTip(TOGGLE_TIPS.get(key, ""))
            box.toggled.connect(self._emit_options)
            grid.addWidget(box, i // 2, i % 2)
            self.toggles[key] = box
        v.addLayout(grid)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(1, 99)
        self.threshold_slider.setValue(30)
        self.threshold_slider.setToolTip("Score threshold: detections below it are not drawn")
        self.threshold_label = QLabel("0.30")
        self.threshold_label.setMinimumWidth(32)
        v.addLayout(_row(QLabel("Threshold"), self.threshold_slider, self.threshold_label, stretch_index=1))
        self.class_filter = QLineEdit()
        self.class_filter.setPlaceholderText("all classes (e.g. person, car)")
        self.class_filter.setClearButtonEnabled(True)
        self.class_filter_error = QLabel("")
        self.class_filter_error.setObjectName("error")
        self.class_filter_error.setWordWrap(True)
        self.class_filter_error.hide()
        v.addLayout(_row(QLabel("Classes"), self.class_filter, stretch_index=1))
        v.addWidget(self.class_filter_error)
        self.threshold_slider.valueChanged.connect(self._emit_options)
        self.class_filter.editingFinished.connect(self._emit_options)
        self.class_filter.textChanged.connect(lambda t: self._emit_options() if not t else None)
        return group

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        self.threshold_slider.setValue(int(round(min(max(value, 0.01), 0.99) * 100)))

    def draw_options(self) -> DrawOptions:
        classes = None
        try:
            classes = parse_class_filter(self.class_filter.text(), self.class_names) if self.class_names else None
            self.class_filter_error.hide()
            self.class_filter.setProperty("invalid", False)
        except InputError as e:
            self.class_filter_error.setText(str(e).replace("--classes", "the class filter"))
            self.class_filter_error.show()
            self.class_filter.setProperty("invalid", True)
        self.class_filter.style().polish(self.class_filter)
        on = {k: b.isChecked() and b.isEnabled() for k, b in self.toggles.items()}
        render = RenderOptions(threshold=self.threshold, classes=classes, boxes=on["boxes"], labels=on["labels"],
                               skeleton=on["skeleton"], cuboids=on["cuboids"])
        return DrawOptions(render=render, heatmap=on["heatmap"],
                           tracking=LiveTrackingOptions(track=on["track"], smooth=on["smooth"]), motion=on["motion"])

    def show_options(self, draw: DrawOptions) -> None:
        """Set the display widgets to `draw` (another stream's, selected in the grid) without emitting."""
        r = draw.render
        values = {"boxes": r.boxes, "labels": r.labels, "skeleton": r.skeleton, "cuboids": r.cuboids,
                  "heatmap": draw.heatmap, "track": draw.tracking.track, "smooth": draw.tracking.smooth,
                  "motion": draw.motion}
        for key, box in self.toggles.items():
            if key in values and box.isEnabled():   # a disabled toggle keeps its state for tasks that have it
                with QSignalBlocker(box):
                    box.setChecked(bool(values[key]))
        with QSignalBlocker(self.threshold_slider):
            self.set_threshold(r.threshold)
        self.threshold_label.setText(f"{self.threshold:.2f}")
        names = self.class_names
        text = ", ".join(names[c] if c < len(names) else str(c) for c in sorted(r.classes)) if r.classes else ""
        with QSignalBlocker(self.class_filter):
            self.class_filter.setText(text)

    def smooth_for(self, task: str) -> bool:
        """The Smooth toggle for a task: the command line's for this run, else as last set for the task."""
        if self.smooth_flag is not None:
            return self.smooth_flag
        return self.smooth_by_task.get(task, smoothing_default(task))

    def set_smooth_flag(self, on: bool) -> None:
        """--smooth / --no-smooth: applies to every task this run and is not remembered, until the
        toggle is switched in the window (that choice is remembered for the task as usual)."""
        self.smooth_flag = bool(on)
        with QSignalBlocker(self.toggles["smooth"]):
            self.toggles["smooth"].setChecked(self.smooth_flag)
        self._emit_options()

    def _emit_options(self) -> None:
        smooth = self.toggles["smooth"].isChecked()
        if smooth != self.smooth_for(self.task):   # switched in the window: remembered for this task
            self.smooth_flag = None
            self.smooth_by_task[self.task] = smooth
        self.threshold_label.setText(f"{self.threshold:.2f}")
        self.options_changed.emit(self.draw_options())


class SeekSlider(QSlider):
    """A slider that jumps to the clicked point (QSlider's own click moves one page step towards it)."""

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.isEnabled():
            self.setValue(self.value_at(event.position().x()))
        super().mousePressEvent(event)   # on the handle now: a drag goes on from here

    def value_at(self, x: float) -> int:
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = max(groove.width() - handle.width(), 1)
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                              round(x - groove.x() - handle.width() / 2), span)


class TransportBar(QWidget):
    """Play/pause, step, seek, frame position, loop and real-time controls under the video."""

    play_toggled = pyqtSignal()
    step_clicked = pyqtSignal()
    seek_requested = pyqtSignal(int)
    loop_toggled = pyqtSignal(bool)
    realtime_toggled = pyqtSignal(bool)
    hold_toggled = pyqtSignal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("transport")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        icon = self.style().standardIcon
        self.play_button = QToolButton()
        self.play_button.setIcon(icon(QStyle.StandardPixmap.SP_MediaPause))
        self.play_button.setToolTip("Pause / play (Space)")
        self.step_button = QToolButton()
        self.step_button.setIcon(icon(QStyle.StandardPixmap.SP_MediaSkipForward))
        self.step_button.setToolTip("Next frame (→)")
        self.seek_slider = SeekSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setEnabled(False)
        self.seek_slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.position_label = QLabel("–")
        self.position_label.setMinimumWidth(110)
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.loop_box = QCheckBox("Loop")
        self.realtime_box = QCheckBox("Real-time")
        self.realtime_box.setChecked(True)
        self.realtime_box.setToolTip("Play files at their frame rate; off: as fast as the model goes")
        self.hold_box = QCheckBox("Hold frames")
        self.hold_box.setToolTip("Show only the frames the model ran on, each with its own detections (for judging "
                                 "accuracy); off: every frame at the source's rate with the newest detections")
        self.every_stream_label = QLabel("every stream:")   # the grid: what the toggles after it act on
        self.every_stream_label.setObjectName("hint")
        self.every_stream_label.hide()
        for w in (self.play_button, self.step_button):
            row.addWidget(w)
        row.addWidget(self.seek_slider, 1)
        for w in (self.position_label, self.every_stream_label, self.loop_box, self.realtime_box, self.hold_box):
            row.addWidget(w)
        for w in (self.play_button, self.step_button, self.seek_slider, self.loop_box, self.realtime_box,
                  self.hold_box):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # Space and → stay the window's shortcuts
        self.play_button.clicked.connect(self.play_toggled)
        self.step_button.clicked.connect(self.step_clicked)
        self.seek_slider.sliderReleased.connect(lambda: self.seek_requested.emit(self.seek_slider.value()))
        # a click or a key moves the value with the slider not down: seek there (set_position blocks signals)
        self.seek_slider.valueChanged.connect(
            lambda v: None if self.seek_slider.isSliderDown() else self.seek_requested.emit(v))
        self.loop_box.toggled.connect(self.loop_toggled)
        self.realtime_box.toggled.connect(self.realtime_toggled)
        self.hold_box.toggled.connect(self.hold_toggled)

    def set_streams(self, n: int) -> None:
        """Several streams: the seek bar is the selected tile's, pause / step / loop / real time / hold act on every
        stream (and say so)."""
        grid = n > 1
        self.every_stream_label.setVisible(grid)
        every = " (every stream)" if grid else ""
        self.play_button.setToolTip(f"Pause / play{every} (Space)")
        self.step_button.setToolTip(f"Next frame{every} (→)")
        self.seek_slider.setToolTip("Position of the selected tile's stream" if grid else "")
        self.loop_box.setToolTip(f"Start a file again at its end{every}")
        self.realtime_box.setToolTip(f"Play files at their frame rate{every}; off: as fast as the model goes")
        self.hold_box.setToolTip(f"Show only the frames the model ran on, each with its own detections{every} (for "
                                 "judging accuracy); off: every frame at the source's rate with the newest detections")

    def set_paused(self, paused: bool) -> None:
        pix = QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause
        self.play_button.setIcon(self.style().standardIcon(pix))

    def set_source(self, frame_count: int | None, seekable: bool) -> None:
        self.seek_slider.setEnabled(bool(frame_count) and seekable)
        with QSignalBlocker(self.seek_slider):   # a new range is not a seek
            self.seek_slider.setRange(0, max((frame_count or 1) - 1, 0))
        self.step_button.setEnabled(seekable)

    def set_position(self, index: int, frame_count: int | None, timestamp_ms: float, stream: int | None = None) -> None:
        """The frame shown (`stream`: the grid's selected stream, named first)."""
        if not self.seek_slider.isSliderDown():
            with QSignalBlocker(self.seek_slider):
                self.seek_slider.setValue(index)
        seconds = timestamp_ms / 1000.0
        total = f" / {frame_count}" if frame_count else ""
        which = f"[{stream}] " if stream is not None else ""
        self.position_label.setText(f"{which}{int(seconds // 60)}:{seconds % 60:04.1f} · {index + 1}{total}")

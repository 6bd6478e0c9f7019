"""Live readout: display and inference FPS, per-stage latency numbers and a rolling chart, counters, device."""
from __future__ import annotations

from collections import deque

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.stats import STAGES

STAGE_COLORS = {"capture": "#8e9aaf", "pre": "#4ea8de", "net": "#f4a261", "decode": "#e76f51",
                "post": "#b388eb", "track": "#ffd166", "render": "#2ec4b6"}
STAGE_NAMES = {"capture": "Capture", "pre": "Pre-process", "net": "Network", "decode": "Decode",
               "post": "Post-process", "track": "Tracking", "render": "Render"}


class LatencyChart(QWidget):
    """Stacked per-stage latency of the last `length` results (ms), newest on the right."""

    def __init__(self, length: int = 150, parent=None):
        super().__init__(parent)
        self.samples: deque[dict] = deque(maxlen=length)
        self.setMinimumSize(140, 90)   # narrow before the numbers beside it: at 220 their captions clipped
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Per-stage latency of recent frames, stacked (ms)")

    def add(self, timings: dict) -> None:
        self.samples.append({s: float(timings.get(s, 0.0)) for s in STAGES})

    def clear(self) -> None:
        self.samples.clear()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 110)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(36, 6, -6, -16)
        p.fillRect(self.rect(), QColor(24, 26, 31))
        p.setPen(QPen(QColor(60, 64, 72), 1))
        p.drawRect(area)
        totals = [sum(s.values()) for s in self.samples]
        top = _nice_ceiling(max(totals) if totals else 10.0)
        small = QFont(self.font())
        small.setPointSize(8)
        p.setFont(small)
        for frac in (0.5, 1.0):
            y = area.bottom() - frac * area.height()
            p.setPen(QPen(QColor(60, 64, 72), 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(QColor(140, 145, 155))
            value = top * frac
            text = f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"
            p.drawText(QRectF(0, y - 7, 32, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        p.drawText(QRectF(area.left(), area.bottom() + 1, area.width(), 14), Qt.AlignmentFlag.AlignRight,
                   chart_caption(p.fontMetrics().horizontalAdvance, area.width()))
        n = len(self.samples)
        if n < 2:
            p.end()
            return
        step = area.width() / (self.samples.maxlen - 1)
        x0 = area.right() - (n - 1) * step
        base = [0.0] * n
        for stage in STAGES:
            upper = [b + s[stage] for b, s in zip(base, self.samples)]
            path = QPainterPath()
            ys = lambda v: area.bottom() - min(v / top, 1.0) * area.height()  # noqa: E731
            path.moveTo(x0, ys(upper[0]))
            for i in range(1, n):
                path.lineTo(x0 + i * step, ys(upper[i]))
            for i in range(n - 1, -1, -1):
                path.lineTo(x0 + i * step, ys(base[i]))
            path.closeSubpath()
            color = QColor(STAGE_COLORS[stage])
            color.setAlpha(200)
            p.fillPath(path, color)
            base = upper
        p.end()


def chart_caption(width_of, room: float) -> str:
    """The caption under the chart, shortened where the chart is narrow (its tooltip says the rest)."""
    full = "ms per frame, stacked by stage"
    return full if width_of(full) <= room else "ms per frame"


def _nice_ceiling(value: float) -> float:
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return float(step)
    return float(value)


def _big_number(title: str) -> tuple[QWidget, QLabel]:
    box = QFrame()
    box.setObjectName("metric")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(10, 6, 10, 6)
    layout.setSpacing(0)
    value = QLabel("–")
    value.setObjectName("metricValue")
    caption = QLabel(title)
    caption.setObjectName("metricCaption")
    layout.addWidget(value)
    layout.addWidget(caption)
    return box, value


class LatencyPanel(QWidget):
    """Numbers update from `PipelineStats.snapshot()`; the chart gets every result's timings."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("latencyPanel")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.setSpacing(10)

        metrics = QGridLayout()
        metrics.setSpacing(6)
        box, self.display_fps_label = _big_number("display FPS")
        metrics.addWidget(box, 0, 0)
        box, self.inference_fps_label = _big_number("inference FPS")
        metrics.addWidget(box, 0, 1)
        box, self.overlay_age_label = _big_number("overlay age ms")
        box.setToolTip("How much older the frame the drawn detections come from is than the frame shown")
        metrics.addWidget(box, 0, 2)
        box, self.end_to_end_label = _big_number("end-to-end ms")
        metrics.addWidget(box, 1, 0)
        box, self.dropped_label = _big_number("dropped frames")
        metrics.addWidget(box, 1, 1)
        row.addLayout(metrics)

        # several streams: one line per stream and a total (hidden with one source)
        self.streams_label = QLabel("")
        self.streams_label.setObjectName("streamLines")
        self.streams_label.setStyleSheet("font-family: monospace; font-size: 8pt;")
        self.streams_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.streams_label.hide()
        row.addWidget(self.streams_label)

        stages = QGridLayout()
        stages.setHorizontalSpacing(8)
        stages.setVerticalSpacing(1)
        self.stage_labels: dict[str, QLabel] = {}
        for i, stage in enumerate(STAGES):
            swatch = QLabel()
            swatch.setFixedSize(10, 10)
            swatch.setStyleSheet(f"background: {STAGE_COLORS[stage]}; border-radius: 2px;")
            name = QLabel(STAGE_NAMES[stage])
            value = QLabel("–")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(64)
            value.setObjectName("stageValue")
            stages.addWidget(swatch, i, 0)
            stages.addWidget(name, i, 1)
            stages.addWidget(value, i, 2)
            self.stage_labels[stage] = value
        # stage times of runs that overlapped (two frames in flight, several streams) are each run's own, longer
        # than one run alone would take: said under them, so the sum is not read as a frame's cost
        self.runs_note = QLabel("")
        self.runs_note.setObjectName("runsNote")
        self.runs_note.setStyleSheet("font-size: 8pt;")
        self.runs_note.hide()
        stages.addWidget(self.runs_note, len(STAGES), 0, 1, 3)
        row.addLayout(stages)

        self.chart = LatencyChart()
        row.addWidget(self.chart, 100)
        row.addStretch(1)    # the chart's room while the streams table stands in for it (the grid)

        info = QVBoxLayout()
        info.setSpacing(2)
        self.device_label = QLabel("device: –")
        self.memory_label = QLabel("memory: –")
        self.skipped_label = QLabel("corrupt frames skipped: 0")
        self.threshold_note = ""   # e.g. "threshold 0.55 from the last session"
        self.boxes_label = QLabel("drawn: 0")
        for label in (self.device_label, self.memory_label, self.skipped_label, self.boxes_label):
            label.setObjectName("infoLine")
            label.setMinimumWidth(200)     # the device line, the longest, has its whole text in its tooltip
            label.setMaximumWidth(300)
            info.addWidget(label)
        info.addStretch(1)
        row.addLayout(info)

    def add_sample(self, timings: dict) -> None:
        self.chart.add(timings)

    def set_drawn(self, shown: int, displayed: int) -> None:
        """Detections drawn on the frame on screen (updated with every painted frame)."""
        note = f" ({self.threshold_note})" if self.threshold_note else ""
        self.boxes_label.setText(f"drawn: {shown}{note} · frames shown: {displayed}")

    def update_numbers(self, snapshot: dict, device: str = "", memory: str = "") -> None:
        self.display_fps_label.setText(f"{snapshot['display_fps']:.1f}")
        self.inference_fps_label.setText(f"{snapshot['inference_fps']:.1f}")
        e2e = snapshot.get("end_to_end_ms")
        self.end_to_end_label.setText("–" if e2e is None else f"{e2e:.0f}")
        age = snapshot.get("overlay_age_ms")
        self.overlay_age_label.setText("–" if age is None else f"{age:.0f}")
        self.dropped_label.setText(str(snapshot["dropped"]))
        for stage, label in self.stage_labels.items():
            value = snapshot["stages"].get(stage)
            label.setText("–" if value is None else f"{value:.1f} ms")
        self.skipped_label.setText(f"corrupt frames skipped: {snapshot['skipped']}")
        self.set_drawn(snapshot["shown"], snapshot["displayed"])
        if device:
            self.device_label.setText(device)
            self.device_label.setToolTip(device)
        if memory:
            self.memory_label.setText(memory)
        self.chart.update()

    def set_runs_at_once(self, runs: int) -> None:
        self.runs_note.setText(f"{runs} runs at once: each stage\nis a run's own, sharing the CPU" if runs > 1 else "")
        self.runs_note.setVisible(runs > 1)

    def set_streams(self, lines: list[str]) -> None:
        """The per-stream lines and the total line of a grid of streams."""
        self.streams_label.setText("\n".join(lines))
        # the table takes the chart's place (with both, the panel squeezed the chart and the big numbers'
        # captions); the chart goes first: showing the table beside it widened the window for good (1440 -> 1482)
        self.chart.setVisible(not lines)
        self.streams_label.setVisible(bool(lines))

    def clear(self) -> None:
        for label in (self.display_fps_label, self.inference_fps_label, self.end_to_end_label, self.overlay_age_label):
            label.setText("–")
        self.dropped_label.setText("0")
        for label in self.stage_labels.values():
            label.setText("–")
        self.chart.clear()

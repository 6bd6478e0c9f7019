"""Paints the newest rendered frame: a QImage over the numpy buffer (no copy), letterboxed, plus messages."""
from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget


def qimage_from_array(image: np.ndarray) -> QImage:
    """A QImage sharing a BGR or BGRA uint8 array's memory (keep the array alive while it is used).

    BGRA is QImage's RGB32 byte order on little-endian machines: painted without any conversion.
    """
    if not image.flags["C_CONTIGUOUS"]:
        image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    fmt = QImage.Format.Format_RGB32 if image.shape[2] == 4 else QImage.Format.Format_BGR888
    return QImage(image.data, w, h, image.strides[0], fmt)


class VideoView(QWidget):
    """The video area. `show_frame()` keeps a reference and schedules a paint; painting never waits.

    Frames arrive as BGRA (RGB32), so painting is one scaled blit with no format conversion.
    """

    frame_painted = pyqtSignal(int, float)   # sequence number, perf_counter when painted

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._seq = -1
        self.source_size = (0, 0)
        self._painted_seq = -1
        self.painted_at = 0.0
        self.paint_ms = 0.0
        self.message = ""
        self.message_level = "info"
        self.placeholder = "Open a video, folder, camera or stream from the Source panel"
        self.badge = ""   # small text at the top-left corner, e.g. "● REC"

    # ---- content ------------------------------------------------------------------------------------
    def show_frame(self, image: np.ndarray, seq: int, source_size: tuple[int, int] | None = None) -> None:
        """Show a BGR or BGRA frame; `source_size` (w, h) is the frame's size before it was fitted to the view."""
        self._array = image
        self._image = qimage_from_array(image)
        self.source_size = source_size or (image.shape[1], image.shape[0])
        self._seq = seq
        self.update()


    def clear(self) -> None:
        self._array = None
        self._image = None
        self.update()

    def set_message(self, text: str, level: str = "info") -> None:
        self.message = text
        self.message_level = level
        self.update()

    def set_badge(self, text: str) -> None:
        self.badge = text
        self.update()

    def image(self) -> QImage | None:
        """The QImage being shown (shares the rendered frame's memory)."""
        return self._image

    def array(self) -> np.ndarray | None:
        return self._array

    def image_rect(self) -> QRectF:
        """Where the frame is drawn in widget coordinates (aspect ratio kept; pixel-aligned when 1:1)."""
        if self._image is None:
            return QRectF()
        ratio = self.devicePixelRatioF()
        iw, ih = self._image.width() / ratio, self._image.height() / ratio
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF(round((self.width() - w) / 2), round((self.height() - h) / 2), w, h)

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Widget coordinates of a point given in the source frame's pixels."""
        r = self.image_rect()
        sw, sh = self.source_size
        return QPointF(r.x() + x * r.width() / sw, r.y() + y * r.height() / sh)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    # ---- painting -----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        start = time.perf_counter()
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 17, 20))
        if self._image is not None:
            rect = self.image_rect()
            if abs(rect.width() * self.devicePixelRatioF() - self._image.width()) < 0.5:
                painter.drawImage(rect.topLeft(), self._image)     # 1:1 blit
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(rect, self._image)
            if self._seq != self._painted_seq:
                self._painted_seq = self._seq
                self.painted_at = time.perf_counter()
                self.frame_painted.emit(self._seq, self.painted_at)
        elif not self.message:
            self._draw_centered(painter, self.placeholder, QColor(150, 155, 165), 13)
        if self.message:
            self._draw_banner(painter)
        if self.badge:
            font = QFont(self.font())
            font.setPointSize(11)
            font.setBold(True)
            painter.setFont(font)
            rect = QRectF(12, 10, 120, 26)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(QColor(255, 80, 80))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.badge)
        painter.end()
        self.paint_ms = (time.perf_counter() - start) * 1000.0

    def _draw_centered(self, painter: QPainter, text: str, color: QColor, size: int) -> None:
        font = QFont(self.font())
        font.setPointSize(size)
        painter.setFont(font)
        painter.setPen(color)
        painter.drawText(self.rect().adjusted(24, 24, -24, -24),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _draw_banner(self, painter: QPainter) -> None:
        colors = {"error": QColor(190, 45, 45, 225), "warning": QColor(200, 130, 20, 225),
                  "info": QColor(40, 110, 200, 225)}
        font = QFont(self.font())
        font.setPointSize(11)
        painter.setFont(font)
        margin = 16
        width = self.width() - 2 * margin
        bounds = painter.boundingRect(QRectF(0, 0, width - 24, 1000),
                                      Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft, self.message)
        rect = QRectF(margin, self.height() - bounds.height() - 20 - margin, width, bounds.height() + 20)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colors.get(self.message_level, colors["info"]))
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(QPen(QColor(255, 255, 255)))
        painter.drawText(rect.adjusted(12, 10, -12, -10),
                         Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.message)

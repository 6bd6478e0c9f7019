"""The window's grid of streams: one tile per source (its `VideoView` and a caption), click selects a tile (the
controls then act on its stream), double-click enlarges it (only it shown), double-click or Esc returns."""
from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QPainter
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.video_view import VideoView

SELECTED_STYLE = "QFrame#tile { border: 2px solid #3d8bfd; border-radius: 4px; }"
PLAIN_STYLE = "QFrame#tile { border: 2px solid transparent; border-radius: 4px; }"


def grid_columns(n: int) -> int:
    """2 streams side by side, 3-4 in a 2x2, more in up to 3 columns."""
    return 1 if n <= 1 else 2 if n <= 4 else 3


class Caption(QLabel):
    """A tile's caption: its whole text (and tooltip), drawn elided in the middle when the tile is narrow, so the
    stream's name and its phase (at the ends) stay in sight; it never widens the grid."""

    def __init__(self, text: str, parent=None):
        super().__init__(text, parent)
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        painter.setPen(self.palette().color(self.foregroundRole()))
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle, rect.width())
        painter.drawText(rect, (self.alignment() | Qt.AlignmentFlag.AlignVCenter).value, text)


class Tile(QFrame):
    """One stream: its video (overlays drawn by the presenter) and a caption `[i] source · fps · status`."""

    clicked = pyqtSignal(int)
    double_clicked = pyqtSignal(int)

    def __init__(self, index: int, parent=None):
        super().__init__(parent)
        self.index = index
        self.setObjectName("tile")
        self.view = VideoView()
        self.view.setMinimumSize(160, 90)
        self.view.placeholder = "connecting…"
        self.caption = Caption(f"[{index}]")
        self.caption.setObjectName("tileCaption")
        v = QVBoxLayout(self)
        v.setContentsMargins(2, 2, 2, 2)
        v.setSpacing(2)
        v.addWidget(self.view, 1)
        v.addWidget(self.caption)
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.setStyleSheet(SELECTED_STYLE if selected else PLAIN_STYLE)

    # the view ignores mouse presses, so they reach its tile
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit(self.index)


class TileGrid(QWidget):
    """The tiles of `n` streams in a grid. `selected` is the stream the controls act on; `enlarged` the one shown
    alone (None: the grid)."""

    selection_changed = pyqtSignal(int)
    enlarged_changed = pyqtSignal(object)    # int or None

    def __init__(self, n: int, parent=None):
        super().__init__(parent)
        self.layout_ = QGridLayout(self)
        self.layout_.setContentsMargins(2, 2, 2, 2)
        self.layout_.setSpacing(4)
        self.tiles = [Tile(i) for i in range(n)]
        columns = grid_columns(n)
        for i, tile in enumerate(self.tiles):
            self.layout_.addWidget(tile, i // columns, i % columns)
            tile.clicked.connect(self.select)
            tile.double_clicked.connect(self.toggle_enlarged)
        self.selected = 0
        self.enlarged: int | None = None
        self.tiles[0].set_selected(True)

    def select(self, index: int) -> None:
        if index == self.selected:
            return
        self.tiles[self.selected].set_selected(False)
        self.selected = index
        self.tiles[index].set_selected(True)
        self.selection_changed.emit(index)

    def toggle_enlarged(self, index: int) -> None:
        """Double-click: this tile alone (and selected), or back to the grid when it already is."""
        self.select(index)
        self.enlarge(None if self.enlarged == index else index)

    def enlarge(self, index: int | None) -> None:
        self.enlarged = index
        for tile in self.tiles:
            tile.setVisible(index is None or tile.index == index)
        self.enlarged_changed.emit(index)

    def show_grid(self) -> bool:
        """Esc: back to the grid; False when it was already shown."""
        if self.enlarged is None:
            return False
        self.enlarge(None)
        return True

    def show_frame(self, index: int, image, seq: int, source_size: tuple[int, int]) -> None:
        self.tiles[index].view.show_frame(image, seq, source_size)

    def set_caption(self, index: int, text: str) -> None:
        self.tiles[index].caption.setText(text)

    def view(self, index: int | None = None) -> VideoView:
        return self.tiles[self.selected if index is None else index].view

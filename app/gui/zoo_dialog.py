"""The original model zoo: a table of the published checkpoints, download (when online) and use."""
from __future__ import annotations

import socket

from PyQt6.QtCore import Qt, QThread, pyqtSignal
from PyQt6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QPushButton,
                             QTableWidget, QTableWidgetItem, QVBoxLayout)

from app.gui.live_adapter import _keep_until_finished
from centernet.errors import CenterNetError
from centernet.models.download import download
from centernet.models.zoo import ZOO, cache_dir, zoo_path

# two-line headers: the long ones would otherwise make their columns wider than any value in them
COLUMNS = ("Model", "Task", "Arch", "Dataset", "AP\n1-scale / flip / multi", "ms\noriginal, Titan Xp", "Here")


class OnlineCheck(QThread):
    """Can the download host be reached? (a 3 s TCP connect, off the GUI thread)"""

    result = pyqtSignal(bool)

    def __init__(self, host: str = "drive.google.com", port: int = 443, parent=None):
        super().__init__(parent)
        self.host, self.port = host, port

    def run(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=3):
                self.result.emit(True)
        except OSError:
            self.result.emit(False)


class Downloader(QThread):
    done = pyqtSignal(str)       # path
    failed = pyqtSignal(str)     # message

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name

    def run(self) -> None:
        try:
            self.done.emit(str(download(self.name).path))
        except CenterNetError as e:
            self.failed.emit(str(e))
        except Exception as e:   # network stacks raise many things: a message, not a crash
            self.failed.emit(f"download of {self.name} failed: {type(e).__name__}: {e}")


class ZooDialog(QDialog):
    """Pick a zoo checkpoint: `use_requested(path)` when it is here (downloaded or put there by hand)."""

    use_requested = pyqtSignal(str)

    def __init__(self, parent=None, check_online: bool = True):
        super().__init__(parent)
        self.setWindowTitle("Original model zoo")
        self.resize(900, 520)
        self.entries = list(ZOO)
        self.online: bool | None = None
        self._threads: list[QThread] = []
        layout = QVBoxLayout(self)
        self.hint = QLabel(f"Files are kept in {cache_dir()} (set CENTERNET_HOME to change it).")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.status = QLabel("checking the connection…" if check_online else "")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.download_button = QPushButton("Download")
        self.use_button = QPushButton("Use")
        self.use_button.setObjectName("primary")
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.download_button.clicked.connect(self.download_selected)
        self.use_button.clicked.connect(self.use_selected)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _: self.use_selected())
        self.refresh()
        self.table.selectRow(0)
        self.resize(self.fitting_width(), 520)
        if check_online:
            checker = OnlineCheck(parent=self)
            checker.result.connect(self.set_online)
            self._start(checker)

    def fitting_width(self) -> int:
        """A width that shows every column whole (no horizontal scrolling), within the screen."""
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        columns = sum(header.sectionSizeHint(c) if c == header.count() - 1 else header.sectionSize(c)
                      for c in range(header.count()))
        scrollbar = self.table.verticalScrollBar().sizeHint().width()
        margins = self.layout().contentsMargins()
        wanted = columns + scrollbar + 2 * self.table.frameWidth() + margins.left() + margins.right() + 8
        screen = self.screen().availableGeometry().width() if self.screen() is not None else wanted
        return max(600, min(wanted, screen - 40))

    def _start(self, thread: QThread) -> None:
        self._threads.append(thread)
        thread.finished.connect(lambda t=thread: self._threads.remove(t) if t in self._threads else None)
        thread.start()

    def refresh(self) -> None:
        for row, e in enumerate(self.entries):
            here = zoo_path(e.name).exists()
            values = (e.name, e.task, e.arch, e.dataset, e.ap_text(), e.ms_text(), "✓" if here else "")
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == 0:
                    item.setToolTip(e.page)
                if col == 6:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        self._update_buttons()

    def selected(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.entries[rows[0].row()] if rows else None

    def set_online(self, online: bool) -> None:
        self.online = online
        self.status.setText("online: downloads come from the original project's Google Drive" if online else
                            "offline: download the file in a browser (hover a name for its page) and put it in "
                            "the folder above, or open any checkpoint with File ▸ Open checkpoint")
        self._update_buttons()

    def _update_buttons(self) -> None:
        entry = self.selected()
        here = entry is not None and zoo_path(entry.name).exists()
        busy = any(isinstance(t, Downloader) for t in self._threads)
        self.use_button.setEnabled(here)
        self.download_button.setEnabled(entry is not None and not here and not busy and self.online is not False)
        self.download_button.setToolTip("" if self.online is not False else "offline")

    def download_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        worker = Downloader(entry.name, parent=self)
        worker.done.connect(self._downloaded)
        worker.failed.connect(lambda m: self.status.setText(f"download failed: {m}"))
        worker.finished.connect(self._update_buttons)
        self.status.setText(f"downloading {entry.name}…")
        self._start(worker)
        self._update_buttons()

    def _downloaded(self, path: str) -> None:
        self.status.setText(f"downloaded {path}")
        self.refresh()

    def use_selected(self) -> None:
        entry = self.selected()
        if entry is not None and zoo_path(entry.name).exists():
            self.use_requested.emit(str(zoo_path(entry.name)))
            self.accept()

    def done(self, result: int) -> None:
        for thread in list(self._threads):
            if isinstance(thread, OnlineCheck):
                thread.wait(3500)
            else:   # a download carries on; kept referenced until it ends
                _keep_until_finished(thread)
        super().done(result)

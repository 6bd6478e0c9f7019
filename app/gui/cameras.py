"""Cameras listed off the GUI thread (opening a camera can take a second)."""
from __future__ import annotations

from PyQt6.QtCore import QThread, pyqtSignal

from centernet.io.sources import list_cameras


class CameraLister(QThread):
    """Probes camera indices off the GUI thread (opening a camera can take a second)."""

    found = pyqtSignal(list)

    def run(self) -> None:
        try:
            cams = list_cameras()
        except Exception:
            cams = []
        self.found.emit(cams)

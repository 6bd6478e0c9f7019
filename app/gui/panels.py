"""The window's panels: the video with its transport bar in the middle, Controls and Performance as docks,
source and model in the status bar. `build_panels` sets them as attributes of the window."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from centernet.inference.backends.torch_engine import cpu_has_native_bf16
from centernet.inference.backends.registry import installed_runtimes

from app.gui.controls import Controls, TransportBar
from app.gui.latency_panel import LatencyPanel
from app.gui.tile_grid import TileGrid
from app.gui.video_view import VideoView


def build_panels(window: QMainWindow, streams: int = 1) -> None:
    """Several streams: a `TileGrid` in the middle (`window.grid`; `window.view` is then the first tile's view,
    where the window's banners go); one: the single view as always (`window.grid` None)."""
    window.grid = TileGrid(streams) if streams > 1 else None
    window.view = window.grid.view(0) if window.grid is not None else VideoView()
    window.transport = TransportBar()
    central = QWidget()
    v = QVBoxLayout(central)
    v.setContentsMargins(0, 0, 0, 0)
    v.setSpacing(0)
    v.addWidget(window.grid if window.grid is not None else window.view, 1)
    v.addWidget(window.transport)
    window.setCentralWidget(central)

    window.controls = Controls(window.config, cuda=window.cuda, cpu_bf16=cpu_has_native_bf16(),
                               installed=installed_runtimes())
    scroll = QScrollArea()
    scroll.setWidget(window.controls)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # never narrower than the panel's own widgets (the grid's tiles ask for more room than one view and took it)
    scroll.setMinimumWidth(max(330, window.controls.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth()))
    window.controls_dock = QDockWidget("Controls", window)
    window.controls_dock.setObjectName("controlsDock")
    window.controls_dock.setWidget(scroll)
    window.controls_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable   # closable: View menu toggles it
                                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.controls_dock)

    window.latency = LatencyPanel()
    window.latency_dock = QDockWidget("Performance", window)
    window.latency_dock.setObjectName("latencyDock")
    window.latency_dock.setWidget(window.latency)
    window.latency_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable   # closable: View menu toggles it
                                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, window.latency_dock)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

    window.source_label = QLabel("no source")
    window.model_label = QLabel("no model")
    window.statusBar().addPermanentWidget(window.source_label)
    window.statusBar().addPermanentWidget(window.model_label)

"""Fixtures for the desktop app tests: the demo clip, a seeded model, isolated settings, a local MJPEG server."""
from __future__ import annotations

from dataclasses import fields

import pytest

from centernet.inference.config import DetectorConfig
from tests.conftest import DATA
from tests.stream_server import MJPEGServer

BIKES = DATA / "video" / "bikes.mp4"
INPUT = (128, 128)   # small network input: the seeded res_18 stays quick on CPU
CONFIG_FIELDS = {f.name for f in fields(DetectorConfig)}


def pytest_collection_modifyitems(config, items):
    """Without pytest-qt (the GPU machine), tests that need `qtbot` are skipped with the reason."""
    if config.pluginmanager.hasplugin("pytestqt") or config.pluginmanager.hasplugin("pytest-qt"):
        return
    skip = pytest.mark.skip(reason="needs pytest-qt (the qtbot fixture), which is not installed")
    for item in items:
        if "qtbot" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture
def bikes():
    if not BIKES.exists():
        pytest.skip(f"{BIKES} is absent (../shared is not beside this checkout)")
    return BIKES


@pytest.fixture
def seeded_res18(seeded_checkpoint):
    return seeded_checkpoint("ctdet", "res_18")


@pytest.fixture
def settings(tmp_path):
    from PyQt6.QtCore import QSettings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    """make_window(**fields) -> a shown window; closed at teardown if the test did not. Fields of DetectorConfig
    go to the window's config, the others to its WindowOptions (device=None: the config's default device)."""
    from app.gui.main_window import MainWindow, WindowOptions
    windows = []

    def make(settings=settings, **kwargs):
        kwargs.setdefault("output_dir", tmp_path / "out")
        kwargs.setdefault("device", "cpu")
        if "weights" not in kwargs:
            kwargs.setdefault("load_model", False)
        model = {k: kwargs.pop(k) for k in list(kwargs) if k in CONFIG_FIELDS}
        window = MainWindow(DetectorConfig(**{k: v for k, v in model.items() if v is not None}),
                            WindowOptions(**kwargs), settings=settings)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close()


def wait_for_result(qtbot, window, predicate=lambda r: True, timeout=60000):
    """Wait until the window shows a result for which predicate holds; return it."""
    qtbot.waitUntil(lambda: window.last_result is not None and predicate(window.last_result), timeout=timeout)
    return window.last_result


@pytest.fixture
def mjpeg_server():
    server = MJPEGServer().start()
    yield server
    server.stop()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_thread_destroyed_while_running(request):
    """Every app test: Qt never reports a QThread destroyed while running."""
    yield
    log = getattr(request.node, "qt_log_capture", None)
    if log is not None:
        bad = [r.message for r in log.records if "Destroyed while" in r.message]
        assert not bad, bad

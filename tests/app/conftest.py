"""Fixtures for the desktop app tests: the demo clip, a seeded model, isolated settings, a local MJPEG server."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from tests.conftest import DATA

BIKES = DATA / "video" / "bikes.mp4"
INPUT = (128, 128)   # small network input: the seeded res_18 stays quick on CPU


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
    """make_window(**MainWindow kwargs) -> a shown window; closed at teardown if the test did not."""
    from app.main_window import MainWindow
    windows = []

    def make(**kwargs):
        kwargs.setdefault("settings", settings)
        kwargs.setdefault("output_dir", tmp_path / "out")
        kwargs.setdefault("device", "cpu")
        if "weights" not in kwargs:
            kwargs.setdefault("load_model", False)
        window = MainWindow(**kwargs)
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


class MJPEGServer:
    """multipart/x-mixed-replace JPEG frames on 127.0.0.1; stop() drops every client, start() serves again."""

    def __init__(self, fps: float = 20.0, size=(160, 120)):
        self.fps = fps
        self.size = size
        self.port = 0
        self.frames_sent = 0
        self._stopping = threading.Event()
        self.httpd = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not server._stopping.is_set():
                        w, h = server.size
                        img = np.full((h, w, 3), 40 + (i * 5) % 200, np.uint8)
                        cv2.rectangle(img, (10 + i % 50, 20), (60 + i % 50, 90), (0, 200, 255), -1)
                        jpg = cv2.imencode(".jpg", img)[1].tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpg) + jpg + b"\r\n")
                        server.frames_sent += 1
                        i += 1
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.handler = Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.mjpg"

    def start(self) -> "MJPEGServer":
        self._stopping.clear()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self._stopping.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


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

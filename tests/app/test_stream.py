"""A real MJPEG-over-HTTP stream from a local server: shown, lost (message + reconnect), resumed."""
from __future__ import annotations

from .conftest import wait_for_result


def test_mjpeg_stream_is_displayed_lost_and_resumed(make_window, qtbot, mjpeg_server):
    window = make_window(source=mjpeg_server.url)
    first = wait_for_result(qtbot, window, lambda r: r.frame.index >= 5, timeout=30000)
    assert first.frame.is_live and first.image.shape == (120, 160, 3)
    assert window.pipeline.source_info.kind == "stream"

    mjpeg_server.stop()
    qtbot.waitUntil(lambda: "stream ended" in window.view.message, timeout=20000)
    assert window.view.message_level == "warning"
    qtbot.waitUntil(lambda: "reconnect attempt" in window.view.message, timeout=20000)
    capture = window.pipeline.capture
    qtbot.waitUntil(lambda: capture.reconnect_attempts >= 2, timeout=20000)
    seq = window.last_result.seq

    mjpeg_server.start()   # same port
    qtbot.waitUntil(lambda: window.last_result.seq > seq + 3, timeout=30000)
    assert window.pipeline.capture is capture and capture.isRunning()
    assert "reconnected" in window.statusBar().currentMessage() or "reconnected" in window.view.message \
        or window.view.message == ""

"""A real MJPEG-over-HTTP stream from a local server: shown, lost or stalled (message + reconnect), resumed."""
from __future__ import annotations

import time

from tests.stream_server import MJPEGServer

from tests.app.conftest import wait_for_result


def test_mjpeg_stream_is_displayed_lost_and_resumed(make_window, qtbot, mjpeg_server):
    window = make_window(source=mjpeg_server.url)
    first = wait_for_result(qtbot, window, lambda r: r.frame.index >= 5, timeout=30000)
    assert first.frame.is_live and first.image.shape == (120, 160, 3)
    assert window.pipeline.source_info.kind == "stream"

    mjpeg_server.stop()
    qtbot.waitUntil(lambda: "stream ended" in window.view.message, timeout=20000)
    assert window.view.message_level == "warning"
    qtbot.waitUntil(lambda: "reconnect attempt" in window.view.message, timeout=20000)
    stream = window.pipeline.stream
    qtbot.waitUntil(lambda: stream.states[0].reconnects >= 2, timeout=20000)
    seq = window.last_result.seq

    mjpeg_server.start()   # same port
    qtbot.waitUntil(lambda: window.last_result.seq > seq + 3, timeout=30000)
    assert window.pipeline.stream is stream and stream.threads[0].is_alive()
    assert "reconnected" in window.statusBar().currentMessage() or "reconnected" in window.view.message \
        or window.view.message == ""


def test_a_stream_that_stalls_while_connected_ends_and_reconnects(make_window, qtbot):
    server = MJPEGServer(stall_after=15).start()   # every connection: 15 frames, then silence, socket open
    try:
        window = make_window(source=server.url)
        wait_for_result(qtbot, window, lambda r: r.frame.index >= 5, timeout=30000)
        qtbot.waitUntil(server.stalled.is_set, timeout=10000)
        stalled_at = time.monotonic()
        qtbot.waitUntil(lambda: "stream ended" in window.view.message, timeout=15000)
        assert time.monotonic() - stalled_at < 15.0    # not OpenCV's default 30 s
        seq = window.last_result.seq
        qtbot.waitUntil(lambda: server.connections >= 2 and window.last_result.seq > seq + 3, timeout=15000)
        assert window.pipeline.stream.states[0].reconnects >= 1 and window.pipeline.stream.threads[0].is_alive()
    finally:
        server.stop()   # ends the silent connection, so closing the window does not wait on a read

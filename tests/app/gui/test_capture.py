"""The capture thread alone: pacing, pause / step / seek, loop, corrupt frames counted."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import Qt

from app.gui.capture import CaptureThread
from tests.app.conftest import closed_port
from tests.stream_server import MJPEGServer


class Sink:
    """Collects frames in the capture thread (a direct connection, as the worker's mailbox)."""

    def __init__(self, capture):
        self.frames = []
        self.lock = threading.Lock()
        capture.frame_ready.connect(self.put, Qt.ConnectionType.DirectConnection)

    def put(self, frame):
        with self.lock:
            self.frames.append((frame.index, time.perf_counter(), frame.skipped))

    def indices(self):
        with self.lock:
            return [f[0] for f in self.frames]


@pytest.fixture
def start_capture(qtbot):
    threads = []

    def start(spec, **kwargs):
        cap = CaptureThread(str(spec), **kwargs)
        sink = Sink(cap)
        cap.start()
        threads.append(cap)
        return cap, sink

    yield start
    for cap in threads:
        cap.stop()
        assert cap.wait(2000)


def test_file_plays_at_its_own_frame_rate(start_capture, qtbot, bikes):
    cap, sink = start_capture(bikes, realtime=True)
    qtbot.waitUntil(lambda: len(sink.indices()) >= 2, timeout=10000)
    qtbot.wait(1500)
    with sink.lock:
        t = [f[1] for f in sink.frames]
    fps = (len(t) - 1) / (t[-1] - t[0])
    assert 15 < fps < 32, fps          # the clip is 25 fps (a busy machine may lag, never race ahead)
    assert sink.indices() == list(range(len(t)))


def test_as_fast_as_possible_waits_for_the_consumer(start_capture, qtbot, bikes):
    taken = {"n": 0}

    def ready():
        return taken["n"] >= len(sink.indices())   # one frame at a time, as the worker's empty slot
    cap, sink = start_capture(bikes, realtime=False, ready=ready)
    qtbot.waitUntil(lambda: len(sink.indices()) == 1, timeout=10000)
    qtbot.wait(300)
    assert len(sink.indices()) == 1
    taken["n"] = 1
    cap.wake()
    qtbot.waitUntil(lambda: len(sink.indices()) == 2, timeout=5000)


def test_pause_step_and_seek(start_capture, qtbot, bikes):
    cap, sink = start_capture(bikes, realtime=True)
    qtbot.waitUntil(lambda: len(sink.indices()) >= 3, timeout=10000)
    cap.set_paused(True)
    qtbot.wait(300)
    n = len(sink.indices())
    qtbot.wait(400)
    assert len(sink.indices()) == n          # paused: nothing more
    last = sink.indices()[-1]
    cap.step()
    qtbot.waitUntil(lambda: len(sink.indices()) == n + 1, timeout=5000)
    assert sink.indices()[-1] == last + 1
    cap.seek(200)
    qtbot.waitUntil(lambda: sink.indices()[-1] == 200, timeout=5000)
    assert cap.is_paused()
    cap.set_paused(False)
    qtbot.waitUntil(lambda: sink.indices()[-1] >= 203, timeout=5000)


def test_loop_starts_the_file_again(start_capture, qtbot, bikes):
    cap, sink = start_capture(bikes, realtime=False, loop=True)
    cap.seek(240)
    qtbot.waitUntil(lambda: 249 in sink.indices() and sink.indices()[-1] < 240, timeout=20000)


def test_end_of_file_pauses_with_a_message(start_capture, qtbot, bikes):
    cap, sink = start_capture(bikes, realtime=False)
    with qtbot.waitSignal(cap.ended, timeout=30000):
        cap.seek(245)
    assert cap.is_paused() and sink.indices()[-1] == 249


def test_corrupt_images_in_a_folder_are_skipped_and_counted(start_capture, qtbot, tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    (tmp_path / "002.png").write_bytes(b"\x89PNG broken")
    cap, sink = start_capture(tmp_path, realtime=False)
    qtbot.waitUntil(lambda: len(sink.indices()) == 3, timeout=10000)
    with sink.lock:
        assert [f[0] for f in sink.frames] == [0, 1, 3]
        assert sink.frames[-1][2] == 1


def test_source_that_cannot_be_opened_emits_the_library_message(qtbot, tmp_path):
    cap = CaptureThread(str(tmp_path / "missing.mp4"))
    with qtbot.waitSignal(cap.failed, timeout=10000) as blocker:
        cap.start()
    assert blocker.args[0].startswith("input not found")
    assert cap.wait(2000)


def three_images(folder):
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    return folder


def test_a_folder_plays_one_image_per_dwell_not_at_25_fps(start_capture, qtbot, tmp_path):
    cap, sink = start_capture(three_images(tmp_path), realtime=True)
    qtbot.waitUntil(lambda: len(sink.indices()) >= 1, timeout=10000)
    qtbot.wait(int(CaptureThread.FOLDER_DWELL_S * 500))
    assert sink.indices() == [0]      # still the first image half a dwell later
    qtbot.waitUntil(lambda: sink.indices()[-1] == 2, timeout=int(CaptureThread.FOLDER_DWELL_S * 2000) + 5000)
    with sink.lock:
        gaps = [b[1] - a[1] for a, b in zip(sink.frames, sink.frames[1:])]
    assert min(gaps) >= CaptureThread.FOLDER_DWELL_S * 0.8, gaps


def test_seek_and_step_work_after_the_end(start_capture, qtbot, tmp_path):
    cap, sink = start_capture(three_images(tmp_path), realtime=False)
    qtbot.waitUntil(lambda: cap.is_paused() and sink.indices() == [0, 1, 2], timeout=10000)
    cap.seek(0)
    qtbot.waitUntil(lambda: sink.indices()[-1] == 0, timeout=5000)
    cap.step()
    qtbot.waitUntil(lambda: sink.indices()[-1] == 1, timeout=5000)
    qtbot.wait(300)
    assert sink.indices() == [0, 1, 2, 0, 1]   # one image per step, still paused
    cap.step()
    qtbot.waitUntil(lambda: sink.indices()[-1] == 2, timeout=5000)
    with qtbot.waitSignal(cap.ended, timeout=5000):
        cap.step()   # past the last image: the end again
    cap.step()       # and from the end: the first image
    qtbot.waitUntil(lambda: len(sink.indices()) == 7, timeout=5000)
    assert sink.indices()[-1] == 0


def test_a_10_fps_stream_is_measured_at_10_fps_and_waiting_is_not_capture_time(qtbot, mjpeg_server_10fps):
    cap = CaptureThread(mjpeg_server_10fps.url)
    frames, infos = [], []
    cap.frame_ready.connect(frames.append, Qt.ConnectionType.DirectConnection)
    cap.opened.connect(infos.append, Qt.ConnectionType.DirectConnection)
    cap.start()
    try:
        qtbot.waitUntil(lambda: len(frames) >= 25, timeout=30000)
    finally:
        cap.stop()
        assert cap.wait(5000)
    assert 7.0 <= infos[-1].fps <= 13.0, [i.fps for i in infos]
    assert 7.0 <= frames[-1].source_fps <= 13.0
    # the clock follows the stream's real time, not frame index / labelled rate
    wall = frames[-1].captured_at - frames[0].captured_at
    clock = (frames[-1].timestamp_ms - frames[0].timestamp_ms) / 1000.0
    assert abs(clock - wall) < 0.3 * wall, (clock, wall)
    # capture time is decoding a 160x120 JPEG, not the ~100 ms wait for the next one
    capture_ms = sorted(f.capture_ms for f in frames[5:])
    assert capture_ms[len(capture_ms) // 2] < 50.0, capture_ms


@pytest.fixture
def mjpeg_server_10fps():
    from tests.stream_server import MJPEGServer
    server = MJPEGServer(fps=10.0).start()
    yield server
    server.stop()


def test_a_stream_that_refuses_the_connection_is_retried_until_it_answers(qtbot):
    """One policy for streams (issue 21): refused at first is retried with back-off like a dropped stream."""
    port = closed_port()
    cap = CaptureThread(f"http://127.0.0.1:{port}/live.mjpg")
    statuses, failures, opened = [], [], []
    cap.opened.connect(opened.append, Qt.ConnectionType.DirectConnection)
    cap.status.connect(statuses.append, Qt.ConnectionType.DirectConnection)
    cap.failed.connect(failures.append, Qt.ConnectionType.DirectConnection)
    cap.start()
    server = MJPEGServer()
    try:
        qtbot.waitUntil(lambda: any("reconnect attempt 1" in m for m in statuses), timeout=20000)
        server.port = port   # now something answers on that port
        server.start()
        qtbot.waitUntil(lambda: bool(opened), timeout=30000)
    finally:
        cap.stop()
        assert cap.wait(5000)
        server.stop()
    assert not failures and statuses[0].startswith(f"stream unreachable: http://127.0.0.1:{port}/live.mjpg")

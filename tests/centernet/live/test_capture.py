"""The capture thread alone (moved here with it from the window): pacing, pause / step / seek, loop, a folder's
dwell, corrupt frames counted, a live stream's measured rate, a refused stream retried."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest

from centernet.live.capture import CaptureThread
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState
from tests.app.conftest import closed_port
from tests.stream_server import MJPEGServer


class Sink:
    """Stands in for the model's mailbox: records every frame the capture hands over (always empty, so a file
    played as fast as the model goes is read as fast as it decodes)."""

    def __init__(self):
        self.frames = []
        self.lock = threading.Lock()
        self.empty = True
        self.replaced = 0

    def put(self, frame):
        with self.lock:
            self.frames.append((frame, time.perf_counter()))

    def indices(self):
        with self.lock:
            return [f.index for f, _ in self.frames]


class Capture:
    def __init__(self, spec, options: StreamOptions):
        self.state = StreamState(0, str(spec), threading.Condition(), options)
        self.sink = self.state.model = Sink()
        self.stop = threading.Event()
        self.events = []
        self.thread = CaptureThread(self.state, options, self.stop, self.events.append)
        self.thread.start()

    def set_paused(self, paused: bool, steps: int = 0, seek: int | None = None):
        with self.state.cond:
            self.state.paused, self.state.steps = paused, self.state.steps + steps
            if seek is not None:
                self.state.seek_to = seek
            self.state.cond.notify_all()

    def close(self):
        self.stop.set()
        self.thread.join(5.0)
        assert not self.thread.is_alive()


@pytest.fixture
def start_capture():
    started = []

    def start(spec, **options):
        capture = Capture(spec, StreamOptions(**options))
        started.append(capture)
        return capture

    yield start
    for capture in started:
        capture.close()


def wait_until(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_file_plays_at_its_own_frame_rate(start_capture, bikes):
    cap = start_capture(bikes, realtime=True)
    wait_until(lambda: len(cap.sink.indices()) >= 2)
    time.sleep(1.5)
    with cap.sink.lock:
        t = [at for _, at in cap.sink.frames]
    fps = (len(t) - 1) / (t[-1] - t[0])
    assert 15 < fps < 32, fps          # the clip is 25 fps (a busy machine may lag, never race ahead)
    assert cap.sink.indices() == list(range(len(t)))


def test_pause_step_and_seek(start_capture, bikes):
    cap = start_capture(bikes, realtime=True)
    sink = cap.sink
    wait_until(lambda: len(sink.indices()) >= 3)
    cap.set_paused(True)
    time.sleep(0.3)
    n = len(sink.indices())
    time.sleep(0.4)
    assert len(sink.indices()) == n          # paused: nothing more
    last = sink.indices()[-1]
    cap.set_paused(True, steps=1)
    wait_until(lambda: len(sink.indices()) == n + 1, 5.0)
    assert sink.indices()[-1] == last + 1
    cap.set_paused(True, steps=1, seek=200)
    wait_until(lambda: sink.indices()[-1] == 200, 5.0)
    time.sleep(0.3)
    assert sink.indices()[-1] == 200         # still paused
    cap.set_paused(False)
    wait_until(lambda: sink.indices()[-1] >= 203, 5.0)


def test_loop_starts_the_file_again_and_can_be_switched_while_playing(start_capture, bikes):
    cap = start_capture(bikes, realtime=False, loop=False)
    with cap.state.cond:
        cap.state.options = replace(cap.state.options, loop=True)   # what Stream.set_options does
        cap.state.seek_to = 240
    wait_until(lambda: 249 in cap.sink.indices() and cap.sink.indices()[-1] < 240, 20.0)


def test_corrupt_images_in_a_folder_are_skipped_and_counted(start_capture, tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    (tmp_path / "002.png").write_bytes(b"\x89PNG broken")
    cap = start_capture(tmp_path, realtime=False)
    wait_until(lambda: cap.state.capture_done)
    assert cap.sink.indices() == [0, 1, 3]
    assert cap.state.skipped == 1


def three_images(folder):
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    return folder


def test_a_folder_plays_one_image_per_dwell_not_at_25_fps(start_capture, tmp_path):
    dwell = StreamOptions().folder_dwell_s
    cap = start_capture(three_images(tmp_path), realtime=True)
    wait_until(lambda: len(cap.sink.indices()) >= 1)
    time.sleep(dwell * 0.5)
    assert cap.sink.indices() == [0]      # still the first image half a dwell later
    wait_until(lambda: cap.sink.indices()[-1] == 2, dwell * 2 + 5)
    with cap.sink.lock:
        gaps = [b[1] - a[1] for a, b in zip(cap.sink.frames, cap.sink.frames[1:])]
    assert min(gaps) >= dwell * 0.8, gaps


@pytest.fixture
def mjpeg_server_10fps():
    server = MJPEGServer(fps=10.0).start()
    yield server
    server.stop()


def test_a_10_fps_stream_is_measured_at_10_fps_and_waiting_is_not_capture_time(start_capture, mjpeg_server_10fps):
    cap = start_capture(mjpeg_server_10fps.url)
    wait_until(lambda: len(cap.sink.indices()) >= 25, 30.0)
    cap.close()
    infos = [e.info for e in cap.events if e.kind == "opened"]
    assert 7.0 <= infos[-1].fps <= 13.0, [i.fps for i in infos]
    frames = [f for f, _ in cap.sink.frames]
    # the clock follows the stream's real time, not frame index / labelled rate
    wall = frames[-1].captured_at - frames[0].captured_at
    clock = (frames[-1].timestamp_ms - frames[0].timestamp_ms) / 1000.0
    assert abs(clock - wall) < 0.3 * wall, (clock, wall)
    # capture time is decoding a 160x120 JPEG, not the ~100 ms wait for the next one
    capture_ms = sorted(f.capture_ms for f in frames[5:])
    assert capture_ms[len(capture_ms) // 2] < 50.0, capture_ms


def test_a_stream_that_refuses_the_connection_is_retried_until_it_answers(start_capture):
    """One policy for streams (issue 21): refused at first is retried with back-off like a dropped stream."""
    port = closed_port()
    cap = start_capture(f"http://127.0.0.1:{port}/live.mjpg", connect_timeout_s=None)   # the window's: no give-up
    server = MJPEGServer()
    try:
        wait_until(lambda: any("reconnect attempt 1" in e.message for e in cap.events), 20.0)
        server.port = port   # now something answers on that port
        server.start()
        wait_until(lambda: any(e.kind == "opened" for e in cap.events), 30.0)
    finally:
        cap.close()
        server.stop()
    assert cap.state.error is None
    assert cap.events[0].message.startswith(f"stream unreachable: http://127.0.0.1:{port}/live.mjpg")

"""centernet/sources.py: stream URLs against a real MJPEG server on 127.0.0.1."""
import time

import pytest

from centernet.errors import InputError
from centernet.io.sources import STREAM_READ_TIMEOUT_S, FrameSource
from tests.stream_server import MJPEGServer


@pytest.fixture
def stalling_server():
    server = MJPEGServer(stall_after=10).start()
    yield server
    server.stop()


def test_a_stream_that_stalls_while_connected_ends_after_the_read_timeout(stalling_server):
    with FrameSource(stalling_server.url) as source:
        assert source.is_live and source.size == (160, 120)
        frames = []
        while len(frames) < 50:   # the server sends 10: more would mean this is not that server
            start = time.monotonic()
            frame = source.read()
            waited = time.monotonic() - start
            if frame is None:
                break
            frames.append(frame)
    assert [f.index for f in frames] == list(range(10)) and stalling_server.stalled.is_set()
    # the end came from the read timeout (OpenCV's own default would hold it for 30 s), the socket still open
    assert STREAM_READ_TIMEOUT_S - 0.5 <= waited < 15.0
    assert stalling_server.httpd is not None and stalling_server.connections == 1


def test_a_url_that_connects_but_never_sends_a_frame_fails_to_open_after_the_open_timeout():
    server = MJPEGServer(stall_after=0).start()
    try:
        start = time.monotonic()
        with pytest.raises(InputError, match="cannot open stream"):
            FrameSource(server.url, open_timeout_s=2.0)
        assert 1.5 <= time.monotonic() - start < 10.0
    finally:
        server.stop()


def test_frames_spread_over_a_video_are_its_first_middle_and_last_frames():
    import cv2
    import numpy as np
    from centernet.io.sources import frames_spread_over
    from centernet.models.zoo import ASSETS
    clip = ASSETS / "demo" / "bikes.mp4"
    cap = cv2.VideoCapture(str(clip))
    every = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        every.append(frame)
    cap.release()
    picked = frames_spread_over(clip, 3)
    middle = round((len(every) - 1) / 2)
    assert len(picked) == 3
    assert all(np.array_equal(a, every[i]) for a, i in zip(picked, (0, middle, len(every) - 1)))
    assert len(frames_spread_over(clip, len(every) + 5)) == len(every)  # a short video: all of it
    assert frames_spread_over(clip.with_name("absent.mp4"), 3) == []

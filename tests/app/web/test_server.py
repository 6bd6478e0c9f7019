"""The browser view's server (app/web) over real HTTP on 127.0.0.1, driven through its object API with two
published streams: the page's tiles, MJPEG parts, 404s, a stuck client, lazy encoding, a port in use."""
from __future__ import annotations

import socket
import struct
import threading
import time

import cv2
import numpy as np
import pytest

from app.web import ViewServer, parse_address
from centernet.errors import ConfigError
from tests.app.web.mjpeg_client import decode, get, read_jpegs


def numbered(n: int, stream: int, size=(160, 120)) -> np.ndarray:
    """A picture that says which frame of which stream it is: grey level n, stream's colour bar."""
    w, h = size
    image = np.full((h, w, 3), n % 256, np.uint8)
    image[:, : w // 4] = (255, 0, 0) if stream == 0 else (0, 0, 255)
    return image


def frame_number(image: np.ndarray) -> int:
    return int(round(float(np.median(image[:, image.shape[1] // 2:]))))


class Publisher:
    """Publishes numbered pictures to every stream of a view at ~`fps` until stopped; keeps the slowest call."""

    def __init__(self, view: ViewServer, fps: float = 50.0, picture=numbered):
        self.view, self.fps, self.picture = view, fps, picture
        self.count = 0
        self.slowest_s = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            for stream in range(len(self.view.slots)):
                image = self.picture(self.count, stream)
                start = time.perf_counter()
                self.view.publish(stream, image)
                self.slowest_s = max(self.slowest_s, time.perf_counter() - start)
            self.count += 1
            self.stop.wait(1.0 / self.fps)

    def __enter__(self) -> "Publisher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5.0)


@pytest.fixture
def view():
    server = ViewServer(("127.0.0.1", 0), ["cam <0> & co", "rtsp://user:secret@host/1"])
    yield server
    server.close()


def test_the_page_has_one_tile_per_stream_with_its_mjpeg_and_source_and_nothing_external(view):
    status, content_type, body = get(view.url)
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    assert page.count('<section class="tile"') == 2
    assert 'src="/stream/0.mjpg"' in page and 'src="/stream/1.mjpg"' in page
    assert "cam &lt;0&gt; &amp; co" in page                             # escaped, not markup
    assert "rtsp://***@host/1" in page and "secret" not in page           # no camera password on the page
    assert "/status.json" in page                                          # the readout's refresh
    assert 'src="http' not in page and 'href="http' not in page and "@import" not in page


def test_each_stream_gives_distinct_decodable_jpegs_whose_content_changes(view):
    with Publisher(view):
        for stream in (0, 1):
            images = [decode(j) for j in read_jpegs(view.url + f"stream/{stream}.mjpg", 6)]
            numbers = [frame_number(im) for im in images]
            assert all(im.shape == (120, 160, 3) for im in images)
            assert len(set(numbers)) == 6, numbers               # each part a new frame
            bar = images[0][:, :20].reshape(-1, 3).mean(axis=0)  # BGR: blue bar for stream 0, red for 1
            assert (bar[0] > 200 and bar[2] < 50) if stream == 0 else (bar[2] > 200 and bar[0] < 50), bar


def test_an_unknown_stream_or_path_is_404(view):
    assert get(view.url + "stream/2.mjpg")[0] == 404
    assert get(view.url + "stream/x.mjpg")[0] == 404
    status, _, body = get(view.url + "nothing")
    assert status == 404 and b"/stream/1.mjpg" in body   # says what exists


def test_frames_are_encoded_only_while_watched_and_once_for_all_clients(view):
    for n in range(30):
        view.publish(0, numbered(n, 0))
    assert view.slots[0].encoded == 0 and not view.watched(0)   # nobody watches: no JPEG work
    with Publisher(view, fps=40) as publisher:
        got = []
        readers = [threading.Thread(target=lambda: got.append(read_jpegs(view.url + "stream/0.mjpg", 15)))
                   for _ in range(2)]
        for r in readers:
            r.start()
        for r in readers:
            r.join(30)
    assert len(got) == 2
    # 30 parts sent to two clients, yet at most one encoding per picture published while they watched
    # (the last one published before they came, then the publisher's)
    assert view.slots[0].encoded <= publisher.count + 1, (view.slots[0].encoded, publisher.count)
    assert view.slots[0].encoded < 30


def test_a_client_that_never_reads_slows_neither_the_publisher_nor_other_clients(view):
    noise = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), np.uint8)   # ~1 MB JPEGs: buffers fill fast

    def big(n, stream):
        image = noise.copy()
        image[:, 640:] = n % 256
        return image

    stuck = socket.create_connection(("127.0.0.1", view.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /stream/0.mjpg HTTP/1.0\r\n\r\n")    # ...and never reads a byte
    try:
        with Publisher(view, fps=25, picture=big) as publisher:
            deadline = time.monotonic() + 20
            while view.slots[0].encoded < 8 and time.monotonic() < deadline:   # its socket's buffers fill up
                time.sleep(0.05)
            time.sleep(1.0)
            stuck_encodes = view.slots[0].encoded
            published_before = publisher.count
            images = [decode(j) for j in read_jpegs(view.url + "stream/0.mjpg", 5, timeout=30)]
            numbers = [frame_number(im) for im in images]
        assert publisher.count < 256, "frame numbers wrapped: the test ran too long to judge freshness"
        assert numbers == sorted(numbers) and len(set(numbers)) == 5, numbers
        assert numbers[0] >= published_before - 1, (numbers, published_before)   # fresh, not a backlog
        assert stuck_encodes >= 1     # the stuck client was served until its socket filled
        assert publisher.slowest_s < 0.1, publisher.slowest_s   # publish only swaps a reference
        started = time.monotonic()
        view.close()                  # a stuck client's thread does not hold the close
        assert time.monotonic() - started < 5.0
    finally:
        stuck.close()


def test_a_browser_that_vanishes_mid_stream_is_let_go(view):
    with Publisher(view):
        gone = socket.create_connection(("127.0.0.1", view.port), timeout=10)
        gone.sendall(b"GET /stream/1.mjpg HTTP/1.0\r\n\r\n")
        assert gone.recv(65536)
        deadline = time.monotonic() + 10
        while not view.watched(1) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view.watched(1)
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # a reset, as a crash
        gone.close()
        while view.watched(1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not view.watched(1), "the server still serves a browser that is gone"
        assert len(read_jpegs(view.url + "stream/1.mjpg", 3)) == 3   # and serves the next one as before


def test_closing_ends_every_mjpeg_client():
    view = ViewServer(("127.0.0.1", 0), ["a"])
    with Publisher(view):
        conn = socket.create_connection(("127.0.0.1", view.port), timeout=10)
        conn.sendall(b"GET /stream/0.mjpg HTTP/1.0\r\n\r\n")
        assert b"multipart/x-mixed-replace" in conn.recv(4096)
        view.close()
        deadline = time.monotonic() + 10
        while conn.recv(65536) and time.monotonic() < deadline:   # drains, then the server's end closes
            pass
        assert time.monotonic() < deadline
        conn.close()


def test_a_port_in_use_is_one_error_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}: the port is in use: pick another port"):
            ViewServer(("127.0.0.1", port), ["a"])


@pytest.mark.parametrize("text, address", [("8080", ("127.0.0.1", 8080)), ("0.0.0.0:80", ("0.0.0.0", 80)),
                                           ("[::1]:9000", ("::1", 9000)), ("localhost:0", ("localhost", 0)),
                                           (":8080", ("127.0.0.1", 8080))])
def test_serve_addresses_parse(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["abc", "host:", "70000", "::1:80", "127.0.0.1:-1", "1.2.3.4:8o"])
def test_bad_serve_addresses_say_the_form(text):
    with pytest.raises(ConfigError, match=r"is not \[HOST:\]PORT: give e.g. 8080"):
        parse_address(text)

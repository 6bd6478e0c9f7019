"""The browser view in a real browser, once: headless Chromium (Debian's `chromium`) screenshots the page twice,
a second apart, and every tile's video must differ between them. Skipped with the reason where it is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest

from app.web import ViewServer
from tests.app.web.test_serve_cli import model_args, start_serving, stop, wait_for_status

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium here (apt-get install -y chromium)")
WIDTH, HEIGHT = 1280, 900


def tile_videos(count: int) -> list[tuple[int, int, int, int]]:
    """Where each tile's video lies in a WIDTH-wide page (page.py's grid: 10 px padding and gap, columns of at
    least 960 px for one stream and 420 px for more, 16:9 videos under a 36 px header): (x0, y0, x1, y1), inset
    by 20 px so borders and captions stay out."""
    inner = WIDTH - 20
    least = 960 if count == 1 else 420
    columns = max(1, min(count, (inner + 10) // (least + 10)))
    width = (inner - 10 * (columns - 1)) / columns
    height = width * 9 / 16
    boxes = []
    for i in range(count):
        row, col = divmod(i, columns)
        x0, y0 = 10 + col * (width + 10), 45 + row * (height + 70)
        boxes.append((int(x0) + 20, int(y0) + 20, int(x0 + width) - 20, int(y0 + height) - 20))
    return boxes


def screenshot(url: str, path, profile) -> None:
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []   # Chromium's sandbox refuses to run as root
    subprocess.run([CHROMIUM, "--headless", *sandbox, "--disable-gpu", "--hide-scrollbars", "--mute-audio",
                    f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", "--timeout=3000",
                    f"--screenshot={path}", url], capture_output=True, timeout=90, check=False)


def two_screenshots(url: str, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """Two browsers on the page, the second started a second after the first: shots a second apart."""
    paths = [tmp_path / "first.png", tmp_path / "second.png"]
    threads = [threading.Thread(target=screenshot, args=(url, p, tmp_path / f"profile{i}"))
               for i, p in enumerate(paths)]
    threads[0].start()
    time.sleep(1.0)
    threads[1].start()
    for t in threads:
        t.join(120)
    images = [cv2.imread(str(p)) for p in paths]
    assert all(im is not None for im in images), f"Chromium wrote no screenshot in {tmp_path}"
    return images[0], images[1]


def assert_every_tile_moves(first: np.ndarray, second: np.ndarray, count: int) -> None:
    page = np.array([0x1d, 0x18, 0x16])   # the page's background (BGR)
    for i, (x0, y0, x1, y1) in enumerate(tile_videos(count)):
        a, b = first[y0:y1, x0:x1].astype(int), second[y0:y1, x0:x1].astype(int)
        assert np.abs(a - page).max() > 30, f"tile {i}: no video where the grid puts it"
        changed = (np.abs(a - b).max(axis=2) > 12).mean()
        assert changed > 0.01, f"tile {i}: only {changed:.2%} of its video changed in a second"


def test_a_real_browser_shows_the_headless_run_moving(bikes, seeded_res18, tmp_path):
    proc, url = start_serving("--source", bikes, *model_args(seeded_res18), "--loop", "--max-seconds", "120")
    try:
        wait_for_status(url, lambda s: s["streams"][0]["frames"] >= 25)
        first, second = two_screenshots(url, tmp_path)
        assert_every_tile_moves(first, second, 1)
    finally:
        stop(proc)


def test_a_real_browser_shows_a_grid_of_two_moving_streams(tmp_path):
    view = ViewServer(("127.0.0.1", 0), ["camera 0", "camera 1"])
    stopping = threading.Event()

    def publish() -> None:   # a bright square crossing each stream, each its own colour and speed
        n = 0
        while not stopping.is_set():
            for stream in (0, 1):
                image = np.full((360, 640, 3), 60, np.uint8)
                x = (n * (6 + 4 * stream)) % 560
                cv2.rectangle(image, (x, 100), (x + 80, 260), (0, 200, 255) if stream else (255, 160, 0), -1)
                view.publish(stream, image)
            n += 1
            stopping.wait(0.04)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        first, second = two_screenshots(view.url, tmp_path)
        assert_every_tile_moves(first, second, 2)
    finally:
        stopping.set()
        publisher.join(5)
        view.close()

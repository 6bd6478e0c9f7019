"""The grid window on a real X server (Xvfb, Qt's xcb platform), not the offscreen platform the other window
tests use: two sources, and what the X server itself shows in each tile's rectangle is a picture that changes.
Skipped with a reason where Xvfb or Qt's xcb libraries are missing (tools/screenshot.sh installs them)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.conftest import DATA

ROOT = Path(__file__).resolve().parents[3]
VTEST = DATA / "video" / "vtest.avi"

# Run in its own process: the test process's QApplication is on the offscreen platform for good.
SCRIPT = r"""
import json, sys, time
import numpy as np
from PyQt6.QtCore import QPoint, QSettings
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from app.gui.main_window import MainWindow, WindowOptions
from centernet.inference.config import DetectorConfig

sources, folder = json.loads(sys.argv[1]), sys.argv[2]
settings = QSettings(folder + "/settings.ini", QSettings.Format.IniFormat)
window = MainWindow(DetectorConfig(device="cpu"), WindowOptions(sources=tuple(sources), loop=True, load_model=False,
                                                                output_dir=folder + "/out"), settings=settings)
window.show()


def wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def seqs():
    return [None if t.view.array() is None else t.view._seq for t in window.grid.tiles]


def grab_tiles():
    # what the X server shows (the root window), cut at each tile's video rectangle
    image = app.primaryScreen().grabWindow(0).toImage().convertToFormat(QImage.Format.Format_RGB888)
    screen = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(image.height(), image.width(), 3)
    tiles = []
    for t in window.grid.tiles:
        corner = t.view.mapToGlobal(QPoint(0, 0))
        tiles.append(screen[corner.y():corner.y() + t.view.height(), corner.x():corner.x() + t.view.width()].copy())
    return tiles


shown = wait(lambda: None not in seqs(), 60)
first_seqs = seqs()
wait(lambda: all(a != b for a, b in zip(seqs(), first_seqs)), 30)
wait(lambda: False, 0.5)
before = grab_tiles()
before_seqs = seqs()
wait(lambda: all(a != b for a, b in zip(seqs(), before_seqs)), 30)
wait(lambda: False, 1.0)
after = grab_tiles()
report = {"platform": app.platformName(), "tiles": len(window.grid.tiles), "shown": shown,
          "sizes": [list(t.shape[:2]) for t in before],
          "spread": [float(t.std()) for t in before],
          "changed": [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(before, after)]}
window.close()
app.processEvents()
print("REPORT " + json.dumps(report), flush=True)
"""


def free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number between :90 and :139")


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 "
                    "libxkbcommon-x11-0; tools/screenshot.sh does it)")
    display = free_display()
    server = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display}").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.skip(f"Xvfb :{display} did not start")
        time.sleep(0.1)
    yield f":{display}"
    server.terminate()
    server.wait(10)


def test_the_grid_on_a_real_x_server_shows_every_tile_moving(xvfb, tmp_path, bikes):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent (../shared is not beside this checkout)")
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=xvfb, PYTHONPATH=str(ROOT),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_RUNTIME_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([str(bikes), str(VTEST)]), str(tmp_path)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    if "could not connect to display" in run.stderr or "Could not load the Qt platform plugin" in run.stderr:
        pytest.skip("Qt's xcb platform cannot start here (the xcb libraries: tools/screenshot.sh installs them)")
    reports = [line for line in run.stdout.splitlines() if line.startswith("REPORT ")]
    assert run.returncode == 0 and reports, run.stderr[-3000:]
    report = json.loads(reports[-1][len("REPORT "):])
    assert report["platform"] == "xcb" and report["tiles"] == 2 and report["shown"]
    assert all(h > 50 and w > 50 for h, w in report["sizes"]), report     # each tile has a real area on screen
    assert all(s > 10 for s in report["spread"]), report                  # a picture, not a flat fill
    assert all(c > 1.0 for c in report["changed"]), report                # and on the X server it moves

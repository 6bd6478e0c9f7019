"""Fixtures for the window tests: the window playing the demo clip, a detector made slower than the source."""
from __future__ import annotations

import time

import pytest

from tests.app.conftest import INPUT, wait_for_result


class SlowDetector:
    """The real detector, made slower than the source by a sleep before each frame."""

    def __init__(self, detector, seconds: float):
        self._detector = detector
        self.seconds = seconds

    def __call__(self, image):
        time.sleep(self.seconds)
        return self._detector(image)

    def __getattr__(self, name):
        return getattr(self._detector, name)


@pytest.fixture
def live_window(make_window, qtbot, bikes, seeded_res18):
    """The window playing bikes.mp4 with the seeded model, after its first detections are on screen."""
    # looping: on a busy machine the 10 s clip can end while the model loads
    window = make_window(source=str(bikes), weights=str(seeded_res18), input_size=INPUT, loop=True)
    wait_for_result(qtbot, window, lambda r: r.dets is not None, timeout=90000)
    return window

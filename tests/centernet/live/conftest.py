"""Fixtures for the live library: the demo clip, a small seeded detector (quick on a CPU)."""
from __future__ import annotations

import pytest

from tests.conftest import DATA

BIKES = DATA / "video" / "bikes.mp4"


@pytest.fixture
def bikes():
    if not BIKES.exists():
        pytest.skip(f"{BIKES} is absent (../shared is not beside this checkout)")
    return BIKES


@pytest.fixture(scope="module")
def small_detector(seeded_checkpoint):
    from centernet.inference.config import DetectorConfig
    from centernet.inference.detector import Detector
    config = DetectorConfig(weights=str(seeded_checkpoint("ctdet", "res_18")), device="cpu", engine="eager",
                            input_size=(64, 64))
    return Detector.from_config(config)

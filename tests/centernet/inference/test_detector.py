"""The Detector's front door: what it says when it is given something that is not an image."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from centernet.errors import InputError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector


@pytest.fixture(scope="module")
def detector(seeded_checkpoint):
    config = DetectorConfig(weights=str(seeded_checkpoint("ctdet", "res_18")), device="cpu", engine="eager",
                            input_size=(64, 64))
    return Detector.from_config(config)


def test_a_file_cv2_could_not_read_is_a_typed_error_naming_the_path_as_the_cause(detector, tmp_path):
    missing = cv2.imread(str(tmp_path / "photo.jpg"))     # the README's example with a wrong path: None
    with pytest.raises(InputError, match="cv2.imread gives None .*check the path"):
        detector(missing)
    with pytest.raises(InputError, match="no image"):
        detector.detect_batch([np.zeros((32, 32, 3), np.uint8), None])


def test_a_path_or_an_empty_array_is_a_typed_error_and_real_images_still_run(detector):
    with pytest.raises(InputError, match="not an image: str; give an H x W x 3 BGR numpy array"):
        detector("photo.jpg")
    with pytest.raises(InputError, match=r"not an image: an array of shape \(0, 0, 3\)"):
        detector(np.zeros((0, 0, 3), np.uint8))
    grey = np.full((48, 64), 128, np.uint8)
    assert len(detector(grey).scores) > 0 and len(detector(np.dstack([grey] * 3)).scores) > 0

"""tools/motion_decompose.py: the skipped frames' loss split into its parts, on real frames of the demo clip
across a cut (the model's own output on every frame as the truth)."""
from pathlib import Path

import pytest

from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from tools.live_motion import read_frames
from tools.motion_decompose import decompose

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo" / "bikes.mp4"   # cuts before frames 30 and 76


@pytest.fixture(scope="module")
def demo():
    detector = Detector.from_config(DetectorConfig(device="cpu", engine="eager", input_size=(256, 256)))
    frames = read_frames(str(DEMO), 80)
    return frames, [detector(image) for image, _ in frames]


def test_the_parts_add_up_to_the_loss_and_the_boxes_across_the_cut_are_the_ones_dropped(demo):
    frames, truth = demo
    d = decompose(frames, truth, every=5, threshold=0.3)      # frames 76-79 show the run on 75, across the cut
    assert d["boxes"] > 10, d
    parts = d["loss_picture"] + d["loss_vanish"] + d["loss_centre"] + d["loss_size"]
    assert parts == pytest.approx(d["loss"], abs=0.003)        # each rounded to 3 decimals
    assert d["loss_picture"] > 0 and d["boxes_with_step"] < d["boxes"]
    assert 0 <= d["ceiling_centre_gain"] <= d["ceiling_centre_size_gain"] <= d["loss"]
    assert d["covered_with_step"] >= 0.95 * d["covered_unmoved"]   # it does not win by hiding boxes that match
    assert d["with_step"] > d["unmoved"]


def test_within_a_steady_shot_nothing_is_dropped(demo):
    frames, truth = demo
    d = decompose(frames[30:62], truth[30:62], every=3, threshold=0.3)   # the camera moves fast from 66 on
    assert d["boxes"] > 10 and d["boxes"] == d["boxes_with_step"] and d["loss_picture"] == 0, d

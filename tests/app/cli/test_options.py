"""options.py: the model options become one DetectorConfig, the same one the GUI panel asks for."""
import argparse

import pytest

from app.cli.main import build_parser
from app.cli.options import detector_config, parse_scales
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.models.zoo import DEFAULT_MODELS


def test_detect_flags_fill_every_field_of_the_config(tmp_path):
    calib = tmp_path / "calib.txt"
    args = build_parser().parse_args(["detect", "x.jpg", "--weights", "w.pth", "--arch", "res_18", "--task", "ddd",
                                      "--device", "cpu", "--keep-res", "--input-size", "384x640", "--flip",
                                      "--scales", "0.5,1", "--calib", str(calib), "--engine", "eager",
                                      "--precision", "bf16"])
    assert detector_config(args) == DetectorConfig(weights="w.pth", arch="res_18", task="ddd", device="cpu",
                                                   keep_res=True, input_size=(384, 640), flip=True,
                                                   scales=(0.5, 1.0), calib=calib, engine="eager", precision="bf16")


def test_defaults_are_the_config_defaults_for_every_command_with_model_options():
    for argv in (["detect", "x.jpg"], ["annotate", "x.mp4"], ["gui"]):
        expected = DetectorConfig(precision="auto") if argv == ["gui"] else DetectorConfig()   # gui: auto (issue 32)
        assert detector_config(build_parser().parse_args(argv)) == expected


def test_the_scale_type_shows_the_library_message_as_a_usage_error():
    assert parse_scales("1,0.5") == (1.0, 0.5)
    with pytest.raises(argparse.ArgumentTypeError, match="between 0.05 and 8"):
        parse_scales("0.01")


def test_gui_flags_and_the_gui_panel_ask_for_the_same_detector(qtbot):
    from app.gui.controls import Controls
    args = build_parser().parse_args(["gui", "--device", "cpu", "--input-size", "384", "--precision", "fp32"])
    panel = Controls(cuda=False)
    qtbot.addWidget(panel)
    panel.set_input_size((384, 384))
    panel.set_engine("auto", "fp32")
    assert panel.model_request() == detector_config(args)


@pytest.mark.skipif(not DEFAULT_MODELS["ctdet"].exists(), reason="the shipped ctdet model is not in assets/")
def test_from_config_builds_the_detector_the_flags_describe():
    args = build_parser().parse_args(["detect", "x.jpg", "--device", "cpu", "--input-size", "256", "--flip",
                                      "--scales", "1,0.75", "--engine", "eager"])
    detector = Detector.from_config(detector_config(args))
    assert detector.flip and detector.scales == (1.0, 0.75)
    assert tuple(detector.spec.input_size) == (256, 256) and detector.device.type == "cpu"
    assert detector.engine_name == "eager" and detector.task == "ctdet"

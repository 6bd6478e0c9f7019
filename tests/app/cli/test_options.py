"""options.py: the model options become one DetectorConfig, the same one the GUI panel asks for."""
import argparse
import ast
import shlex
import subprocess
import sys

import pytest

from app.cli import annotate, detect, gui, main
from app.cli.main import build_parser
from app.cli.options import detector_config, parse_scales
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.inference.backends.base import PRECISIONS
from centernet.inference.backends.registry import ENGINE_NAMES
from centernet.models.heads import TASKS
from centernet.models.zoo import DEFAULT_MODELS
from tests.conftest import ROOT


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


# ---------------------------------------------------------------------------- each option declared once
APP = ROOT / "app"
# flags that mean something else where they are declared a second time (not the same option under two names)
OTHER_MEANING = {"--json": "weights inspect: print the report as JSON; elsewhere: a JSON file to write",
                 "--warmup": "python -m app.cli.gui_bench: seconds of play; elsewhere: untimed runs"}


def declarations() -> dict[str, list[str]]:
    """flag -> where it is declared in app/: each `add_argument("--flag", ...)` and `Option("--flag", ...)` call,
    read from the source as a reviewer would."""
    found: dict[str, list[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in ("add_argument", "Option"):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
                    found.setdefault(arg.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_option_is_declared_once_in_app():
    found = declarations()
    twice = {flag: where for flag, where in found.items() if len(where) > 1 and flag not in OTHER_MEANING}
    assert twice == {}
    for flag in ("--weights", "--arch", "--task", "--device", "--engine", "--precision", "--input-size",
                 "--keep-res", "--flip", "--scales", "--threshold", "--out", "--quiet"):
        assert len(found[flag]) == 1 and found[flag][0].startswith("app/cli/options.py:"), (flag, found[flag])
    assert all(len(found[flag]) == 2 for flag in OTHER_MEANING)   # stale entries would hide a new duplicate


def parsers():
    """(name, parser) for every command and sub-command, and the GUI benchmark's own program."""
    from app.cli.gui_bench import build_parser as gui_bench_parser

    def walk(name, parser):
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(f"{name} {sub_name}", sub)
    yield from walk("main.py", build_parser())
    yield "app.cli.gui_bench", gui_bench_parser()


def test_task_engine_and_precision_choices_are_the_librarys_everywhere():
    seen = {"--task": 0, "--engine": 0, "--precision": 0}
    expected = {"--task": TASKS, "--engine": ENGINE_NAMES, "--precision": PRECISIONS}
    for name, parser in parsers():
        for action in parser._actions:
            for flag in set(action.option_strings) & set(seen):
                seen[flag] += 1
                if name != "main.py explore":   # explore sweeps comma-separated lists, checked by its grid
                    assert tuple(action.choices) == tuple(expected[flag]), (name, flag)
    assert seen["--task"] >= 5 and seen["--engine"] >= 4 and seen["--precision"] >= 4


def test_an_option_accepts_the_same_values_in_every_command():
    """Commands change an option's default and help only: its type, choices and action are the declaration's."""
    shapes: dict[str, set] = {}
    for name, parser in parsers():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag in OTHER_MEANING or flag == "--help" or name == "main.py explore":
                    continue
                shapes.setdefault(flag, set()).add((type(action).__name__, action.type,
                                                    tuple(action.choices or ()), action.nargs))
    assert {flag: shape for flag, shape in shapes.items() if len(shape) > 1} == {}


def test_the_gui_benchmark_parses_the_shared_options(tmp_path):
    from app.cli.gui_bench import build_parser as gui_bench_parser
    args = gui_bench_parser().parse_args(["--input-size", "384", "--device", "cpu", "--json", str(tmp_path / "b.json"),
                                          "--warmup", "0.5"])
    assert args.input_size == (384, 384) and args.device == "cpu" and args.warmup == 0.5
    proc = subprocess.run([sys.executable, "-m", "app.cli.gui_bench", "--input-size", "100"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "bad size '100'" in proc.stderr   # the command line's size rule, before Qt


@pytest.mark.parametrize("module", [main, gui, detect, annotate], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_help_example_parses_with_the_options_as_they_are_and_is_shown(module, capsys):
    parser = build_parser()
    for command, _ in module.EXAMPLES:
        argv = shlex.split(command)[1:]
        if not argv or argv[-1] == "--help":    # the bare demo, and "COMMAND --help" (a placeholder)
            continue
        args = parser.parse_args(argv)          # an option renamed or a value refused: SystemExit here
        assert args.command == argv[0]
    help_argv = [] if module is main else [module.EXAMPLES[0][0].split()[1]]
    with pytest.raises(SystemExit):
        parser.parse_args([*help_argv, "--help"])
    shown = capsys.readouterr().out
    assert "examples:" in shown and all(command in shown for command, _ in module.EXAMPLES)

"""Shared pieces of the command line: every option more than one command takes, declared once (its flag, type,
choices from the library's constants, help); argparse types; exit codes; and the detector the options describe."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from centernet.errors import ConfigError
from centernet.inference import tta
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.inference.backends.base import PRECISIONS
from centernet.inference.backends.registry import ENGINE_NAMES, engine_help
from centernet.models.heads import TASKS
from centernet.tracking import DEFAULT_TRACKER, TRACKERS

EXIT_OK = 0
EXIT_PARTIAL_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

_KEEP = object()   # "as declared" for Option.add
_CONFIG = DetectorConfig()   # the model options default to the config's defaults


@dataclass(frozen=True)
class Option:
    """One command-line option as every command that takes it declares it: the flag, what argparse parses it
    with (type, choices, action) and a help text. A command may change only the default, the help and whether
    it is required: what the flag accepts never differs between commands."""

    flag: str
    help: str
    parse: Mapping[str, Any] = field(default_factory=dict)   # add_argument keywords besides help

    def __post_init__(self):
        object.__setattr__(self, "parse", MappingProxyType(dict(self.parse)))

    def add(self, p: argparse.ArgumentParser, *, default: Any = _KEEP, help: str | None = None,
            required: bool = False) -> None:
        kwargs = dict(self.parse, help=help or self.help)
        if default is not _KEEP:
            kwargs["default"] = default
        if required:
            kwargs["required"] = True
        p.add_argument(self.flag, **kwargs)

    def add_sweep(self, p: argparse.ArgumentParser, *, default: Any, help: str, nargs: str | None = None) -> None:
        """explore's form of the option: several values to sweep (comma-separated, or one word per set with
        nargs), checked by the library's grid rather than by argparse."""
        p.add_argument(self.flag, default=default, help=help, **({"nargs": nargs} if nargs else {}))


class RepeatedSource(argparse.Action):
    """--source that may be repeated (`gui`: several streams): `args.source` stays the first one given (a
    single source reads as it always did), `args.source_list` holds every one in order."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = [*(getattr(namespace, "source_list", None) or []), values]
        namespace.source_list = given
        setattr(namespace, self.dest, given[0])


def parse_scales(text: str) -> tuple[float, ...]:
    """argparse type: the library's scale parser, its error shown as argparse's usage error."""
    try:
        return tta.parse_scales(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use N or HxW, e.g. 512 or 384x640") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 32 or any(v % 32 for v in parts):
        raise argparse.ArgumentTypeError(f"bad size {text!r}: give N or HxW, multiples of 32 and at least 32")
    return parts[0], parts[1]


def parse_score(text: str) -> float:
    """--threshold: a score in 0..1 (nan, -1 and 2 would silently keep everything or nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad score {text!r}: give a number from 0 to 1, e.g. 0.3") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"score {text} is outside 0..1: give a number from 0 to 1, e.g. 0.3")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give a whole number above 0") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not above 0: give a whole number above 0")
    return value


def parse_time(text: str) -> float:
    """'90', '90s', '1m30s', '1h', '500ms', '01:30' or '1:02:03.5' -> seconds."""
    t = text.strip().lower()
    try:
        if ":" in t:
            parts = [float(v) for v in t.split(":")]
            if len(parts) > 3:
                raise ValueError
            return sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        if t.endswith("ms"):
            return float(t[:-2]) / 1000.0
        total, number = 0.0, ""
        for ch in t:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in "hms" and number:
                total += float(number) * {"h": 3600, "m": 60, "s": 1}[ch]
                number = ""
            else:
                raise ValueError
        return total + (float(number) if number else 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad time {text!r}: use seconds or e.g. 10s, 1m30s, 500ms, 01:30") from None



# ---- the options more than one command takes (a command adds one with e.g. `DEVICE.add(p)`) ----------------
WEIGHTS = Option("--weights", "checkpoint file (original model zoo or ours); default: the shipped model")
ARCH = Option("--arch", "override the arch read from the checkpoint")
TASK = Option("--task", "task (default: read from the checkpoint)", {"choices": TASKS})
DEVICE = Option("--device", "cpu, cuda, cuda:N or auto (default); with --engine openvino: cpu or gpu (an Intel "
                "integrated GPU OpenVINO sees)", {"default": _CONFIG.device})
KEEP_RES = Option("--keep-res", "keep the image resolution (padded), as the original", {"action": "store_true"})
INPUT_SIZE = Option("--input-size", "network input HxW or N (default: the checkpoint's)", {"type": parse_size})
ENGINE = Option("--engine", engine_help(), {"default": _CONFIG.engine, "choices": ENGINE_NAMES})
PRECISION = Option("--precision", "network precision: fp32 (equal to the original), fp16 (GPU), bf16 (GPU, "
                   "or a CPU with AVX512-BF16/AMX: ~2x faster there, same AP on coco_mini, not bit-equal), auto "
                   "(fp16 on a GPU, bf16 on such a CPU, else fp32)", {"default": _CONFIG.precision, "choices": PRECISIONS})
FLIP = Option("--flip", "also run the mirrored image and average (ctdet, multi_pose)", {"action": "store_true"})
SCALES = Option("--scales", "test scales, e.g. 0.5,0.75,1,1.25,1.5: merged with the original's soft-NMS",
                {"type": parse_scales, "default": _CONFIG.scales})
CALIB = Option("--calib", "ddd camera: a KITTI calib file (P2), an intrinsics JSON ({fx, fy, cx, cy} or {P: 3x4}), "
               "a 4x4 matrix file, or a folder of <image name>.txt", {"type": Path})
RES = Option("--res", "square network input size", {"type": positive_int, "default": 512})
THRESHOLD = Option("--threshold", "keep detections scoring at least this", {"type": parse_score})
CLASSES = Option("--classes", "only these classes (names or indices, comma-separated)")
TRACK = Option("--track", "give detections track ids", {"action": "store_true"})
TRACKER = Option("--tracker", f"the association (default {DEFAULT_TRACKER}; greedy: CenterTrack's centre-distance "
                 "rule)", {"choices": tuple(TRACKERS), "default": DEFAULT_TRACKER})
SERVE = Option("--serve", "headless: also serve a browser view at http://HOST:PORT/ (each stream's video as MJPEG, "
               "/status.json, /metrics for Prometheus); HOST defaults to 127.0.0.1, this machine only: binding "
               "another address (0.0.0.0) exposes the video to the network; port 0 picks a free one",
               {"metavar": "[HOST:]PORT"})
SOURCE = Option("--source", "camera index, video file, image folder, image or URL (rtsp://, http://)",
                {"action": RepeatedSource})
SOURCES_FILE = Option("--sources", "a text file of sources, one per line (# comments and blank lines skipped), "
                      "played after those given with --source", {"type": Path, "metavar": "FILE",
                                                                   "dest": "sources_file"})
DATA = Option("--data", "COCO folder or annotation .json; KITTI folder for ddd")
MAX_IMAGES = Option("--max-images", "use only the first N images", {"type": int})
BATCH = Option("--batch", "frames per forward pass", {"type": int})
WARMUP = Option("--warmup", "untimed runs before timing", {"type": int})
WORKERS = Option("--workers", "worker processes", {"type": int})
RESUME = Option("--resume", "continue where an interrupted run stopped", {"action": "store_true"})
OUT = Option("--out", "where to write", {"type": Path})
JSON = Option("--json", "also write the numbers to this JSON file", {"type": Path})
QUIET = Option("--quiet", "no progress bar", {"action": "store_true"})


def with_examples(examples: tuple[tuple[str, str], ...]) -> dict:
    """`add_parser` / ArgumentParser keywords that end a command's --help with its examples: each command line,
    then what it does on the line below (tests/app/cli parse every example, so none drifts from the options)."""
    lines = [f"  {command}\n      {what}" for command, what in examples]
    return {"epilog": "examples:\n" + "\n".join(lines), "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_model_options(p: argparse.ArgumentParser, *, precision: str = _CONFIG.precision) -> None:
    """The options a DetectorConfig is built from (`detector_config`); `precision`: the command's default."""
    for option in (WEIGHTS, ARCH, TASK, DEVICE, KEEP_RES, INPUT_SIZE, ENGINE):
        option.add(p)
    PRECISION.add(p, default=precision, help=f"{PRECISION.help}; default: {precision}")


def add_tta_options(p: argparse.ArgumentParser) -> None:
    """Test-time augmentation, as the original's --flip_test / --test_scales (detect, annotate)."""
    FLIP.add(p)
    SCALES.add(p)


def add_calib_option(p: argparse.ArgumentParser) -> None:
    CALIB.add(p)


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    """The DetectorConfig the model options (and the TTA and calib options, where a command has them) describe."""
    return DetectorConfig(weights=args.weights, arch=args.arch, task=args.task, device=args.device,
                          keep_res=args.keep_res, input_size=args.input_size,
                          flip=getattr(args, "flip", False), scales=getattr(args, "scales", (1.0,)),
                          calib=getattr(args, "calib", None), engine=args.engine, precision=args.precision)


def build_detector(args: argparse.Namespace) -> Detector:
    """The Detector the command's model options describe."""
    return Detector.from_config(detector_config(args))

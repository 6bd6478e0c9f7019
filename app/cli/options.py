"""Shared pieces of the command line: option groups, argparse types, exit codes, and the detector they describe."""
from __future__ import annotations

import argparse
from pathlib import Path

from centernet.errors import ConfigError
from centernet.inference import tta
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.inference.backends.registry import AUTO, ENGINE_NAMES, engine_help

EXIT_OK = 0
EXIT_PARTIAL_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="checkpoint file (original model zoo or ours); default: the shipped model")
    p.add_argument("--arch", help="override the arch read from the checkpoint")
    p.add_argument("--task", choices=("ctdet", "multi_pose", "ddd"), help="task (default: read from the checkpoint)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default); with --engine openvino: cpu "
                   "or gpu (an Intel integrated GPU OpenVINO sees)")
    p.add_argument("--keep-res", action="store_true", help="keep the image resolution (padded), as the original")
    p.add_argument("--input-size", type=parse_size, help="network input HxW or N (default: the checkpoint's)")
    p.add_argument("--engine", default=AUTO, choices=ENGINE_NAMES, help=engine_help())
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16", "auto"),
                   help="network precision: fp32 (default, equal to the original), fp16 (GPU), bf16 (GPU, or a "
                        "CPU with AVX512-BF16/AMX: ~2x faster there, same AP on coco_mini, not bit-equal), auto "
                        "(fp16 on a GPU, bf16 on such a CPU, else fp32)")


def add_tta_options(p: argparse.ArgumentParser) -> None:
    """Test-time augmentation, as the original's --flip_test / --test_scales (detect, annotate)."""
    p.add_argument("--flip", action="store_true", help="also run the mirrored image and average (ctdet, multi_pose)")
    p.add_argument("--scales", type=parse_scales, default=(1.0,),
                   help="test scales, e.g. 0.5,0.75,1,1.25,1.5: merged with the original's soft-NMS")


def add_calib_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calib", type=Path, help="ddd camera: a KITTI calib file (P2), an intrinsics JSON "
                   "({fx, fy, cx, cy} or {P: 3x4}), a 4x4 matrix file, or a folder of <image name>.txt")


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


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    """The DetectorConfig the model options (and the TTA and calib options, where a command has them) describe."""
    return DetectorConfig(weights=args.weights, arch=args.arch, task=args.task, device=args.device,
                          keep_res=args.keep_res, input_size=args.input_size,
                          flip=getattr(args, "flip", False), scales=getattr(args, "scales", (1.0,)),
                          calib=getattr(args, "calib", None), engine=args.engine, precision=args.precision)


def build_detector(args: argparse.Namespace) -> Detector:
    """The Detector the command's model options describe."""
    return Detector.from_config(detector_config(args))

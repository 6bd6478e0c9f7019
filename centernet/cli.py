"""The command line: one function per subcommand; `main.py` and the `centernet` script call `main`."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .errors import CenterNetError, InputError

EXIT_USER_ERROR = 2
EXIT_PARTIAL_FAILURE = 1


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="checkpoint file (original model zoo or ours); default: the shipped model")
    p.add_argument("--arch", help="override the arch read from the checkpoint")
    p.add_argument("--task", choices=("ctdet", "multi_pose", "ddd"), help="task (default: read from the checkpoint)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--keep-res", action="store_true", help="keep the image resolution (padded), as the original")
    p.add_argument("--input-size", type=parse_size, help="network input HxW or N (default: the checkpoint's)")


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


def parse_classes(text: str | None, class_names) -> frozenset | None:
    """--classes 'person,car' or '0,2' -> class indices."""
    if not text:
        return None
    lookup = {n.lower(): i for i, n in enumerate(class_names)}
    out = set()
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item.isdigit() and int(item) < len(class_names):
            out.add(int(item))
        elif item.lower() in lookup:
            out.add(lookup[item.lower()])
        else:
            raise InputError(f"unknown class {item!r} in --classes: use names such as {', '.join(class_names[:3])}")
    return frozenset(out)


def build_detector(args):
    from .detector import Detector
    return Detector.from_checkpoint(args.weights, arch=args.arch, task=args.task, device=args.device,
                                    keep_res=args.keep_res, input_size=args.input_size)


def ensure_writable_dir(path: Path, flag: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise InputError(f"cannot write to {flag} {path}: {e.strerror or e}; choose a folder you can write") from None
    return path


def write_json_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_detect(args) -> int:
    from .detect import run_detect
    return run_detect(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="centernet", description="CenterNet Live: objects as points, in real time")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("detect", help="detect objects in images, folders and globs")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    add_model_options(p)
    p.add_argument("--threshold", type=float, default=None,
                   help="score threshold: drawing uses 0.3 when not given; the JSON keeps all K unless given")
    p.add_argument("--classes", help="only these classes (names or indices, comma-separated)")
    p.add_argument("--out", type=Path, help="folder for rendered images")
    p.add_argument("--json", type=Path, help="write COCO-format results here")
    p.add_argument("--timings", action="store_true", help="print per-stage times per image and medians")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_detect)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        from .demo import run_main_job
        return _guarded(run_main_job)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    return _guarded(lambda: args.func(args))


def _guarded(fn) -> int:
    """Run a command; a user error becomes one line on stderr and exit code 2."""
    try:
        return int(fn() or 0)
    except CenterNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

"""`python -m app.cli.gui_bench`: the options of the app's own benchmark (app/gui/bench.py), then the run.

Its options that the commands share are the command line's own declarations. Qt starts only after they
parse, so a bad value gets the command line's one-line error without a window.
"""
from __future__ import annotations

import argparse
import os
import sys

from app.cli.options import DEVICE, INPUT_SIZE, JSON, SOURCE, WEIGHTS

DESCRIPTION = "Benchmark of the app itself (not of a model): display, inference and paint rates of the real window."


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options; those the commands share are the command line's own declarations."""
    ap = argparse.ArgumentParser(prog="python -m app.cli.gui_bench", description=DESCRIPTION)
    SOURCE.add(ap, help="video to play (default: a synthetic 1080p 30 fps clip)")
    WEIGHTS.add(ap, help="a real checkpoint instead of the stand-in model")
    INPUT_SIZE.add(ap)
    DEVICE.add(ap)
    ap.add_argument("--model-ms", type=float, default=15.0, help="stand-in model latency (default 15 ms)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds (default 20)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds played before measuring (default 3)")
    JSON.add(ap, help="write the numbers here too")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.gui.bench import run   # Qt only once the options are good
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Does the live pipeline cost little? (issue 32: `gui --headless --fast` inference fps at least 90 % of the
Detector's own end-to-end fps, same engine and precision, same clip, for both default models.)

For each default model (the ctdet mobilenetv3 and MoveNet), round by round, alternating the order: the Detector
alone in a fresh process on the demo clip's frames (tools/omp_check.py's child: frames read first, then
pre-processing + network + decode + boxes in image pixels, no environment variable set) and
`main.py gui --headless --fast --loop --max-seconds T` on the same clip, inference fps from its `final:` line.
Both with the same --engine and --precision (default auto: the cached choice, so both run the same backend; the
engines each side printed are checked equal). The ratio is the medians' ratio over the rounds.

    python tools/live_throughput.py --rounds 3 --seconds 10 [--json live_throughput.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.headless_readout import parse_headless  # noqa: E402
from tools.omp_check import detector_run  # noqa: E402

DEMO = ROOT / "assets" / "demo" / "bikes.mp4"
MODELS = {"ctdet": ROOT / "assets" / "models" / "centernet_mobilenetv3.pth",
          "movenet": ROOT / "assets" / "models" / "movenet_multipose.pth"}
TARGET = 0.90


@dataclass
class ModelFigures:
    model: str
    detector_fps: list[float] = field(default_factory=list)
    headless_fps: list[float] = field(default_factory=list)
    detector_engine: str = ""
    headless_engine: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.detector_fps or not self.headless_fps:
            return None
        return statistics.median(self.headless_fps) / statistics.median(self.detector_fps)


def same_engine(detector_summary: str, headless_summary: str) -> bool:
    """'openvino bf16 (auto: ...)' on both sides: the backend and precision (the first two words) agree."""
    return detector_summary.split()[:2] == headless_summary.split()[:2]


def headless_run(weights: Path, seconds: float, engine: str, precision: str) -> tuple[float, str]:
    """(inference fps of the final line, engine summary) of one `gui --headless --fast` run."""
    cmd = [sys.executable, str(ROOT / "main.py"), "gui", "--headless", "--fast", "--loop", "--source", str(DEMO),
           "--weights", str(weights), "--max-seconds", str(seconds), "--engine", engine, "--precision", precision]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          timeout=seconds + 180)
    run = parse_headless(proc.stdout)
    if proc.returncode != 0 or 0 not in run.finals:
        raise SystemExit(f"error: gui --headless exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return run.finals[0].inference_fps, run.engine or ""


def measure(models: list[str], rounds: int, frames: int, seconds: float, engine: str, precision: str,
            log=print) -> list[ModelFigures]:
    figures = {m: ModelFigures(m) for m in models}
    for r in range(rounds):
        for m in models:
            f = figures[m]
            sides = ("detector", "headless") if r % 2 == 0 else ("headless", "detector")
            for side in sides:
                if side == "detector":
                    fps, f.detector_engine = detector_run("library", frames, engine, precision, str(MODELS[m]))
                    f.detector_fps.append(fps)
                else:
                    fps, f.headless_engine = headless_run(MODELS[m], seconds, engine, precision)
                    f.headless_fps.append(fps)
                log(f"# round {r + 1} {m} {side}: {fps:.1f} fps, load average {os.getloadavg()[0]:.2f}")
    return list(figures.values())


def format_table(figures: list[ModelFigures]) -> str:
    lines = ["| model | engine | Detector alone fps (median, runs) | gui --headless --fast inference fps "
             f"(median, runs) | ratio (target >= {TARGET:.2f}) |", "| --- | --- | --- | --- | --- |"]
    for f in figures:
        runs = lambda v: f"{statistics.median(v):.1f} ({', '.join(f'{x:.1f}' for x in v)})"  # noqa: E731
        engine = f.headless_engine if same_engine(f.detector_engine, f.headless_engine) else \
            f"differ: Detector {f.detector_engine}; headless {f.headless_engine}"
        ratio = f"{f.ratio:.2f}" + (" (met)" if f.ratio >= TARGET else " (below)") if f.ratio is not None else "-"
        lines.append(f"| {f.model} | {engine} | {runs(f.detector_fps)} | {runs(f.headless_fps)} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="ctdet,movenet", help=f"any of {', '.join(MODELS)}")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=250, help="Detector alone: the clip's first N frames (250: all)")
    p.add_argument("--seconds", type=float, default=10.0, help="gui --headless --max-seconds")
    p.add_argument("--engine", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}: use {', '.join(MODELS)}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, load average before: {open('/proc/loadavg').read().strip()}",
          flush=True)
    figures = measure(models, args.rounds, args.frames, args.seconds, args.engine, args.precision,
                      log=lambda s: print(s, flush=True))
    print(f"# load average after: {open('/proc/loadavg').read().strip()}")
    print(format_table(figures))
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=1))
        tmp.replace(args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

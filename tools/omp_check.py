"""Is a library user's script as fast as the command line? (issue 32: torch's OpenMP threads spin beside
OpenVINO's unless OMP_WAIT_POLICY=PASSIVE, which the front ends set and `import centernet` now sets too).

Runs the Detector on the demo clip's frames in fresh processes, alternating: with the variable set in the
environment, with nothing set (`import centernet` first, as the README does), and with torch imported
before centernet (too late for the library to set it). Prints fps per run and the medians' ratios.

    python tools/omp_check.py --rounds 3 --frames 60
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
if sys.argv[1] == "torch-first":
    import torch  # noqa: F401  (OpenMP starts before centernet can set its wait policy)
import cv2
from centernet import Detector
from centernet.inference.config import DetectorConfig
import os
det = Detector.from_config(DetectorConfig(weights=sys.argv[6] or None, device="cpu", engine=sys.argv[3],
                                          precision=sys.argv[4]))
cap = cv2.VideoCapture(sys.argv[5]); frames = []
while len(frames) < int(sys.argv[2]):
    ok, f = cap.read()
    if not ok: break
    frames.append(f)
for f in frames[:5]: det(f)
t = time.perf_counter()
for f in frames: det(f)
print(len(frames) / (time.perf_counter() - t), os.environ.get("OMP_WAIT_POLICY"), det.engine_summary)
"""


def run(mode: str, frames: int, engine: str, precision: str) -> float:
    return detector_run(mode, frames, engine, precision)[0]


def detector_run(mode: str, frames: int, engine: str, precision: str, weights: str | None = None) -> tuple[float, str]:
    """(fps, engine summary) of the Detector on the demo clip's first `frames` frames in a fresh process
    (`weights`: None for the default ctdet model); tools/live_throughput.py times the Detector alone with it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("OMP_WAIT_POLICY", None)
    if mode == "env":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(frames), engine, precision,
                          str(ROOT / "assets" / "demo" / "bikes.mp4"), weights or ""], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout.split(maxsplit=2)
    return float(out[0]), out[2].strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--engine", default="auto")
    p.add_argument("--precision", default="auto")
    args = p.parse_args()
    modes = ("env", "library", "torch-first")
    fps = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            fps[mode].append(run(mode, args.frames, args.engine, args.precision))
            print(json.dumps({"mode": mode, "fps": round(fps[mode][-1], 1)}), flush=True)
    med = {m: statistics.median(v) for m, v in fps.items()}
    print(json.dumps({"median_fps": {m: round(v, 1) for m, v in med.items()},
                      "library_vs_env": round(med["library"] / med["env"], 3),
                      "torch_first_vs_env": round(med["torch-first"] / med["env"], 3)}))


if __name__ == "__main__":
    main()

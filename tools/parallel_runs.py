"""Does running two frames at once pay, and how should OpenVINO split its threads for it? (issue 33: the
live model thread's second worker and `Backend.set_parallel_runs`.)

Calls the default model's Detector (end to end: pre-processing, network, decode, boxes in image pixels) on
real demo-clip frames from 1 or 2 threads at once, with the backend told 1 or 2 parallel runs (OpenVINO:
one CPU stream with every thread, or two streams sharing them). Interleaved: each round times every setting
for --seconds, the order reversed every other round, so load changes hit all rows alike; the figure is the
median over rounds of the frames per second all threads together finished.

    python tools/parallel_runs.py --rounds 3 --seconds 5 [--engine openvino] [--precision bf16]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from centernet import Detector  # noqa: E402  (sets OMP_WAIT_POLICY before torch starts its threads)
from tools.batch_gain import DEMO, DEFAULT_WEIGHTS, read_frames  # noqa: E402


@dataclass(frozen=True)
class Setting:
    callers: int        # threads calling the Detector at once
    parallel_runs: int  # what the backend is told

    @property
    def label(self) -> str:
        return f"{self.callers} caller{'s' if self.callers > 1 else ''}, told {self.parallel_runs}"


SETTINGS = (Setting(1, 1), Setting(2, 1), Setting(2, 2), Setting(1, 2))


def frames_per_second(detector: Detector, frames: list, callers: int, seconds: float) -> float:
    """Frames all `callers` threads detected together per second (each walks the frames from its own start)."""
    done = [0] * callers
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        k = i * len(frames) // callers
        while time.perf_counter() < stop:
            detector(frames[k % len(frames)])
            done[i] += 1
            k += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - start)


def measure(detector: Detector, frames: list, rounds: int, seconds: float, log=print) -> dict[Setting, float]:
    fps: dict[Setting, list[float]] = {s: [] for s in SETTINGS}
    for s in SETTINGS:   # warm-up: each setting compiles once, each thread makes its infer request
        detector.backend.set_parallel_runs(s.parallel_runs)
        frames_per_second(detector, frames[:4], s.callers, 0.5)
    for r in range(rounds):
        for s in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            detector.backend.set_parallel_runs(s.parallel_runs)
            fps[s].append(frames_per_second(detector, frames, s.callers, seconds))
        log(f"# round {r + 1}/{rounds} done, load average {os.getloadavg()[0]:.2f}")
    return {s: statistics.median(v) for s, v in fps.items()}


def format_table(fps: dict[Setting, float]) -> str:
    base = fps[SETTINGS[0]]
    lines = ["| setting | frames/s | vs 1 caller, told 1 |", "| --- | --- | --- |"]
    lines += [f"| {s.label} | {v:.1f} | {v / base:.2f}x |" for s, v in fps.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--engine", default="openvino")
    p.add_argument("--precision", default="bf16")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    args = p.parse_args(argv)
    detector = Detector.from_checkpoint(args.weights, device="cpu", engine=args.engine, precision=args.precision)
    frames = read_frames(DEMO, 40)
    print(f"# {detector.engine_summary}; load average before {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(format_table(measure(detector, frames, args.rounds, args.seconds)))
    print(f"# load average after {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

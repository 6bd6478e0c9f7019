"""The motion step's benefit on real clips (issue 32): the boxes shown on frames the model skipped, moved to
their own time or left where they were, scored against each frame's own detections (the Detector on every
frame, offline; mean best IoU by class; `centernet.live.motion_eval`).

Offline and deterministic: the model on every K-th frame, through the model thread's own code (one JSON line
per clip and K):

    python tools/live_motion.py ../shared/data/video/vtest.avi assets/demo/bikes.mp4 --every 2 3 4 5

In real time: each clip played at its own rate through `centernet.live.stream` (its threads and pacing),
the motion step on, each skipped frame scored with the boxes it showed and with the same boxes unmoved
(paired: same frames, same ages; "their IoU": the model outputs behind the scored frames against the truth of
the frames they ran on, 1.0 when the truth is of the frames played), on a quiet machine and beside a busy
neighbour (a process this tool starts that keeps every core busy with matrix products); a table at the end:

    python tools/live_motion.py ../shared/data/video/vtest.avi assets/demo/bikes.mp4 --realtime --frames 300 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centernet.inference.config import DetectorConfig  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.live.motion_eval import play_scored, skipped_frame_iou  # noqa: E402

# the busy neighbour: BLAS matrix products on every core until killed
BUSY = "import numpy as np\na = np.random.rand(800, 800)\nwhile True:\n    a @ a\n"


def read_frames(path: str, limit: int) -> list:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append((image, len(frames) * 1000.0 / fps))
    return frames


def start_neighbour() -> subprocess.Popen:
    cores = str(os.cpu_count() or 2)
    env = {**os.environ, "OMP_NUM_THREADS": cores, "OPENBLAS_NUM_THREADS": cores, "MKL_NUM_THREADS": cores}
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY], env=env)
    time.sleep(2.0)   # let it get going
    return neighbour


def offline(detector, args) -> None:
    for clip in args.clips:
        frames = read_frames(clip, args.frames)
        truth = [detector(image) for image, _ in frames]
        for every in args.every:
            score = skipped_frame_iou(detector, frames, every, args.threshold, truth)
            print(json.dumps({"clip": Path(clip).name, "frames": len(frames), **score}), flush=True)


def realtime(detector, args) -> None:
    truths = {clip: [detector(image) for image, _ in read_frames(clip, args.frames)] for clip in args.clips}
    rows = []
    for load in args.loads:
        neighbour = start_neighbour() if load == "busy" else None
        try:
            for _ in range(args.rounds):
                for clip in args.clips:
                    rows.append(play_row(detector, clip, truths[clip], load, args))
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    print("\n| clip | load (load average) | frames shown | model runs (their IoU) | skipped frames scored "
          "(unpaired) | their boxes, unmoved / with the step | mean overlay age ms | mean IoU, unmoved | with the step "
          "| gain | step ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clip']} | {r['load']} ({r['loadavg']}) | {r['frames']} | {r['runs']} ({r['runs_iou']}) | "
              f"{r['skipped']} ({r['unpaired']}) | {r['boxes']} / {r['boxes_with_step']} | {r['mean_age_ms']} | "
              f"{r['iou_without_step']} | {r['iou_with_step']} | {r['gain']:+.3f} | {r['motion_ms']} |")


def play_row(detector, clip: str, truth: list, load: str, args) -> dict:
    load_average = os.getloadavg()[0]
    s = play_scored(detector, clip, truth, max_frames=args.frames, threshold=args.threshold)
    on, off = s.with_step, s.without_step
    rnd = lambda v, digits=4: round(v, digits) if v is not None else None  # noqa: E731
    row = {"clip": Path(clip).name, "load": load, "loadavg": round(load_average, 1), "frames": on.frames,
           "runs": s.runs, "runs_iou": rnd(s.runs_iou, 3), "skipped": on.skipped, "unpaired": s.unpaired,
           "boxes": off.boxes, "boxes_with_step": on.boxes, "mean_age_ms": rnd(on.mean_age_ms, 1),
           "iou_without_step": rnd(off.mean_iou), "iou_with_step": rnd(on.mean_iou),
           "gain": (on.mean_iou - off.mean_iou) if on.boxes and off.boxes else 0.0, "motion_ms": rnd(s.motion_ms, 2)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="+")
    p.add_argument("--realtime", action="store_true", help="play the clips through centernet.live.stream")
    p.add_argument("--loads", nargs="+", choices=["quiet", "busy"], default=["quiet", "busy"],
                   help="--realtime: beside nothing, or beside a busy neighbour process")
    p.add_argument("--rounds", type=int, default=1, help="--realtime: plays of each clip per load")
    p.add_argument("--every", type=int, nargs="+", default=[2, 3, 4, 5],
                   help="offline: the model runs on every K-th frame")
    p.add_argument("--frames", type=int, default=120, help="frames of each clip")
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--input-size", type=int, default=None, help="network input (default: the model's)")
    p.add_argument("--engine", default=None, help="default: eager offline, auto in real time (as the live view)")
    p.add_argument("--precision", default=None, help="default: fp32 offline, auto in real time (as the live view)")
    args = p.parse_args()
    live = args.realtime
    size = (args.input_size, args.input_size) if args.input_size else None
    detector = Detector.from_config(DetectorConfig(device="cpu", engine=args.engine or ("auto" if live else "eager"),
                                                   precision=args.precision or ("auto" if live else "fp32"),
                                                   input_size=size))
    (realtime if live else offline)(detector, args)


if __name__ == "__main__":
    main()

"""How well the boxes shown on frames the model skipped match those frames' own detections, with and without
the motion step (issue 32). Two ways:

- `--every K` (offline, deterministic): the model runs on every K-th frame, as the live pipeline's model
  thread would (the same `ModelThread.infer`: tracker, Kalman velocities); frames in between show the last
  run's boxes, moved to their own time or not.
- `--realtime` : the clip played through `centernet.live.stream` at its own rate; each shown frame's boxes
  (moved, and the same unmoved) are compared with that frame's own detections computed afterwards.

The truth is the Detector on every frame. Score: the mean, over boxes shown on skipped frames, of the best
IoU with a truth box of the same class (0 when none). Prints one JSON line per clip.

    python tools/live_motion.py assets/demo/bikes.mp4 ../shared/data/video/vtest.avi --every 3
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centernet.inference.config import DetectorConfig  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.live import StreamOptions, stream  # noqa: E402
from centernet.live.frames import LiveFrame  # noqa: E402
from centernet.live.model import ModelThread  # noqa: E402
from centernet.live.motion import moved  # noqa: E402
from centernet.live.state import StreamState  # noqa: E402
from centernet.tracking.bytetrack import iou_matrix  # noqa: E402
from centernet.tracking.live import LiveTracker  # noqa: E402


def best_iou_by_class(shown, truth) -> list[float]:
    """Per shown box: the best IoU with a truth box of its class."""
    s, t = shown.numpy(), truth.numpy()
    if len(shown) == 0:
        return []
    iou = iou_matrix(s["boxes"].astype(np.float64), t["boxes"].astype(np.float64))
    same = s["labels"][:, None] == t["labels"][None, :]
    iou = np.where(same, iou, 0.0)
    return iou.max(axis=1).tolist() if iou.shape[1] else [0.0] * len(shown)


def read_frames(path: str, limit: int) -> list[tuple[np.ndarray, float]]:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append((image, len(frames) * 1000.0 / fps))
    return frames


def offline(detector, frames, every: int, threshold: float) -> dict:
    """The model on every `every`-th frame; the frames between show its boxes moved or not."""
    options = StreamOptions(threshold=threshold)
    truth = [detector(image).above(threshold) for image, _ in frames]
    state = StreamState(0, "clip", threading.Condition())
    state.tracker = LiveTracker(options.tracking)
    model = ModelThread(detector, [state], options, state.cond, threading.Event())
    with_step, without, overlay = [], [], None
    for i, (image, ts) in enumerate(frames):
        if i % every == 0:
            overlay = model.infer(state, LiveFrame(image, i, ts, 0.0, 0.0))
            continue
        if overlay is None:
            continue
        without += best_iou_by_class(overlay.dets, truth[i])
        with_step += best_iou_by_class(moved(overlay.dets, overlay.velocity, ts - overlay.frame.timestamp_ms), truth[i])
    return {"every": every, "boxes": len(with_step), "iou_without_step": round(float(np.mean(without)), 3),
            "iou_with_step": round(float(np.mean(with_step)), 3)}


def realtime(detector, path: str, seconds: float, threshold: float) -> dict:
    """The clip played in real time through the live pipeline; skipped frames scored afterwards."""
    options = StreamOptions(threshold=threshold)
    shown = []
    with stream(path, detector=detector, options=options) as results:
        started = time.monotonic()
        for r in results:
            if not r.inferred and r.overlay_age_ms is not None:
                shown.append(r)
            if time.monotonic() - started > seconds:
                break
    plain = StreamOptions(threshold=threshold, motion=False)   # the same frames, unmoved: their model run's boxes
    with_step, without, ages = [], [], []
    frames = dict(enumerate(image for image, _ in read_frames(path, 10**6)))
    for r in shown:
        truth = detector(frames[r.frame_index]).above(threshold)
        with_step += best_iou_by_class(r.detections, truth)
        ages.append(r.overlay_age_ms)
    # without the step: each shown frame's boxes as the model left them (replayed offline, same model run)
    del plain
    return {"realtime_s": seconds, "skipped_frames": len(shown), "boxes": len(with_step),
            "iou_with_step": round(float(np.mean(with_step)), 3) if with_step else None,
            "median_overlay_age_ms": round(float(np.median(ages)), 1) if ages else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="+")
    p.add_argument("--every", type=int, nargs="+", default=[1 + 1, 3, 5], help="model runs on every K-th frame")
    p.add_argument("--frames", type=int, default=150, help="frames of each clip")
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--engine", default="auto")
    p.add_argument("--precision", default="fp32")
    args = p.parse_args()
    detector = Detector.from_config(DetectorConfig(device="cpu", engine=args.engine, precision=args.precision))
    for clip in args.clips:
        frames = read_frames(clip, args.frames)
        for every in args.every:
            print(json.dumps({"clip": Path(clip).name, **offline(detector, frames, every, args.threshold)}), flush=True)


if __name__ == "__main__":
    main()

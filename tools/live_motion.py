"""The motion step's benefit on real clips (issue 32): the model on every K-th frame, the frames between
showing its boxes moved to their own time or left where they were, scored against each frame's own
detections (mean best IoU by class; `centernet.live.motion_eval`). One JSON line per clip and K.

    python tools/live_motion.py ../shared/data/video/vtest.avi assets/demo/bikes.mp4 --every 2 3 5
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centernet.inference.config import DetectorConfig  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.live.motion_eval import skipped_frame_iou  # noqa: E402


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="+")
    p.add_argument("--every", type=int, nargs="+", default=[2, 3, 5], help="the model runs on every K-th frame")
    p.add_argument("--frames", type=int, default=120, help="frames of each clip")
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--input-size", type=int, default=384)
    p.add_argument("--engine", default="eager")
    args = p.parse_args()
    detector = Detector.from_config(DetectorConfig(device="cpu", engine=args.engine,
                                                   input_size=(args.input_size, args.input_size)))
    for clip in args.clips:
        frames = read_frames(clip, args.frames)
        truth = [detector(image) for image, _ in frames]
        for every in args.every:
            score = skipped_frame_iou(detector, frames, every, args.threshold, truth)
            print(json.dumps({"clip": Path(clip).name, "frames": len(frames), **score}), flush=True)


if __name__ == "__main__":
    main()

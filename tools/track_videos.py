"""Both trackers on the same real detections of videos: ids issued, tracked boxes, frame-to-frame id changes.

    .venv/bin/python tools/track_videos.py assets/demo/bikes.mp4 ../shared/data/video/vtest.avi --frames 300

The default model runs once per frame (scores >= --threshold, as annotate keeps them); each tracker then
gets the very same detections, as `main.py track` would re-track a saved file. No ground truth: an id
change is counted as `centernet.evaluation.track_faults.id_changes` defines it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from centernet.evaluation.track_faults import id_changes, track_rows  # noqa: E402
from centernet.inference.config import DetectorConfig  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.tracking import TRACKERS, make_tracker  # noqa: E402
from centernet.tracking.retrack import retrack  # noqa: E402


def detect_video(detector: Detector, path: Path, frames: int, threshold: float) -> list:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < frames:
        ok, image = cap.read()
        if not ok:
            break
        out.append((len(out) + 1, detector(image).above(threshold)))
    cap.release()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("videos", nargs="+", type=Path)
    p.add_argument("--frames", type=int, default=300, help="first N frames of each video")
    p.add_argument("--threshold", type=float, default=0.3)
    args = p.parse_args()
    detector = Detector.from_config(DetectorConfig())
    print(f"{'video':12} {'tracker':10} {'ids':>4} {'tracked boxes':>13} {'id changes':>10}")
    for video in args.videos:
        detections = detect_video(detector, video, args.frames, args.threshold)
        for name in TRACKERS:
            rows = track_rows(retrack(detections, make_tracker(name)))
            print(f"{video.name:12} {name:10} {len(np.unique(rows[:, 1])):>4} {len(rows):>13} {id_changes(rows):>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Greedy vs ByteTrack on ground truth with seeded faults (centernet/evaluation/track_faults.py), and the
trackers' cost per frame.

    .venv/bin/python tools/track_faults.py [--gt ../shared/data/mot/TUD-Campus/gt.txt] [--seeds 0 1 2 3 4]
        [--detections-dir DIR]   # also write each seed's detections as MOTChallenge det files (for other trackers)
    .venv/bin/python tools/track_faults.py --bench   # milliseconds per frame for 50 boxes
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from centernet.detections import Detections  # noqa: E402
from centernet.evaluation.track_faults import FaultModel, faulty_detections, track_rows  # noqa: E402
from centernet.evaluation.tracking import score_tracks  # noqa: E402
from centernet.io.mot_files import read_mot_tracks  # noqa: E402
from centernet.io.detection_files import frames_of  # noqa: E402
from centernet.tracking import TRACKERS, make_tracker  # noqa: E402
from centernet.tracking.live import LiveTracker, LiveTrackingOptions  # noqa: E402
from centernet.tracking.retrack import retrack  # noqa: E402

GT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mot" / "TUD-Campus" / "gt.txt"


def compare(gt_path: Path, seeds, detections_dir: Path | None) -> None:
    gt = read_mot_tracks(gt_path, ground_truth=True)
    print(f"{'tracker':10} {'seed':>4} {'HOTA':>6} {'IDF1':>6} {'MOTA':>6} {'IDsw':>5} {'tracks':>6}")
    for name in TRACKERS:
        scores = []
        for seed in seeds:
            det = faulty_detections(gt, FaultModel(seed=seed))
            if detections_dir is not None:
                detections_dir.mkdir(parents=True, exist_ok=True)
                np.savetxt(detections_dir / f"det_seed{seed}.txt",
                           np.c_[det[:, 0], -np.ones(len(det)), det[:, 1:3], det[:, 3:5] - det[:, 1:3], det[:, 5]],
                           fmt=["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.4f"], delimiter=",")
            s = score_tracks(gt, track_rows(retrack(frames_of(det), make_tracker(name))))
            scores.append(s)
            print(f"{name:10} {seed:4d} {s.hota:6.3f} {s.idf1:6.3f} {s.mota:6.3f} {s.id_switches:5d} "
                  f"{s.predicted_tracks:6d}")
        mean = lambda key: statistics.mean(getattr(s, key) for s in scores)  # noqa: E731
        print(f"{name:10} {'mean':>4} {mean('hota'):6.3f} {mean('idf1'):6.3f} {mean('mota'):6.3f} "
              f"{mean('id_switches'):5.1f} {mean('predicted_tracks'):6.1f}")


def bench(boxes: int = 50, frames: int = 300) -> None:
    """Per tracker, the median milliseconds of one update with `boxes` walkers (jittered) in the frame."""
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1800, (boxes, 2))
    speed = rng.normal(0, 3, (boxes, 2))
    clip = []
    for t in range(frames):
        xy = start + speed * t + rng.normal(0, 1.5, (boxes, 2))
        b = np.c_[xy, xy + [40, 100]]
        clip.append(Detections(torch.tensor(b, dtype=torch.float32),
                               torch.tensor(rng.uniform(0.2, 1, boxes), dtype=torch.float32),
                               torch.zeros(boxes, dtype=torch.int64)))
    runs = {name: (lambda tracker: lambda dets, t: tracker.update(dets))(make_tracker(name)) for name in TRACKERS}
    live = LiveTracker(LiveTrackingOptions(track=True, smooth=True))   # the GUI's: threshold, ids, smoothing, trails
    runs["live view"] = lambda dets, t: live.update(dets, t, threshold=0.1)
    for name, run in runs.items():
        times = []
        for t, dets in enumerate(clip):
            tick = time.perf_counter()
            run(dets, t / 25.0)
            times.append(time.perf_counter() - tick)
        print(f"{name:10} {boxes} boxes: median {1e3 * statistics.median(times):.3f} ms/frame, "
              f"p90 {1e3 * np.percentile(times, 90):.3f} ms")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gt", type=Path, default=GT)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--detections-dir", type=Path)
    p.add_argument("--bench", action="store_true", help="time the trackers instead")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.bench:
        bench()
    else:
        compare(args.gt, args.seeds, args.detections_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

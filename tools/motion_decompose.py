"""Where the boxes shown on skipped frames lose their IoU (issue 32): the loss of the last run's boxes, left where
they were, split into its causes, beside what the motion step wins back.

The model runs on every K-th frame through the live model thread's own code (`motion_eval.skipped_frames`);
each box shown on a frame in between is scored as the issue asks (best IoU with that frame's own detections of
its class, the Detector on every frame being the truth, threshold 0.3). The loss, 1 - mean IoU of the unmoved
boxes, is the sum of:

  picture  the boxes of a frame whose picture changed since the model's (`motion.picture_change`: a cut, a
           vehicle filling the view): the ones the step drops
  vanish   the other boxes with no truth box at IoU >= 0.3 (the object is gone, or its score fell under 0.3)
  centre   what moving each matched box onto its truth box's centre would win (a perfect centre motion, which
           also cancels the detector's centre jitter: a ceiling)
  size     what is left on the matched boxes: the size change (and jitter)

with, per row: the share of shown boxes whose track has a velocity (the fallback where the flow fails), of
vanished boxes still detected at a score >= 0.1, of shown boxes scoring under 0.35 and their mean IoU, the truth
boxes that appear (none of the shown boxes at IoU >= 0.3; the issue's score does not count them), and the truth
boxes covered at IoU >= 0.5 by the shown boxes without and with the step (the step must not buy its IoU with them).

    python tools/motion_decompose.py assets/demo/bikes.mp4 ../shared/data/video/vtest.avi --every 2 3 5 8 --frames 300
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centernet.inference.config import DetectorConfig  # noqa: E402
from centernet.live.motion_eval import same_class_iou, skipped_frames  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.tracking.bytetrack import iou_matrix  # noqa: E402
from tools.live_motion import read_frames  # noqa: E402

MATCH = 0.3       # a shown box with no truth box at this IoU has vanished
STILL = 0.1       # ... but is it still detected under the display threshold?
LOW = 0.35        # shown boxes scoring under this: the ones an aging confidence would drop first
COVERED = 0.5     # a truth box is covered by a shown box at this IoU


def best(iou: np.ndarray) -> np.ndarray:
    return iou.max(axis=1) if iou.shape[1] else np.zeros(iou.shape[0])


def at_centres(boxes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    half = (boxes[:, 2:] - boxes[:, :2]) / 2.0
    return np.concatenate([centres - half, centres + half], axis=1)


def frame_rows(f, threshold: float) -> dict:
    """Per box shown on one skipped frame: its unmoved IoU, its parts of the loss, and the frame's counts."""
    shown, truth = f.overlay.dets.numpy(), f.truth.above(threshold).numpy()
    n = len(shown["boxes"])
    iou = same_class_iou(shown, truth)
    u = best(iou)
    dropped = np.full(n, len(f.shown) == 0 and n > 0)
    matched = (u >= MATCH) & ~dropped
    centre = u.copy()
    if matched.any():
        target = truth["boxes"][iou[matched].argmax(axis=1)].astype(np.float64)
        placed = at_centres(shown["boxes"][matched].astype(np.float64), (target[:, :2] + target[:, 2:]) / 2.0)
        centre[matched] = np.diag(iou_matrix(placed, target))
    still = best(same_class_iou(shown, f.truth.above(STILL).numpy())) >= MATCH
    velocity = np.any(f.overlay.velocity != 0, axis=1) if f.overlay.velocity is not None else np.zeros(n, bool)
    shown_step = f.shown.numpy()
    return {"u": u, "step": best(same_class_iou(shown_step, truth)), "dropped": dropped, "matched": matched,
            "centre": centre, "still": still, "velocity": velocity, "score": shown["scores"],
            "truth": len(truth["boxes"]), "appear": int((best(iou.T) < MATCH).sum()),
            "covered": int((best(iou.T) >= COVERED).sum()),
            "covered_step": int((best(same_class_iou(truth, shown_step)) >= COVERED).sum())}


def decompose(frames: list, truth: list, every: int, threshold: float) -> dict:
    rows = [frame_rows(f, threshold) for f in skipped_frames(frames, every, truth, threshold)]
    cat = lambda key: np.concatenate([r[key] for r in rows]) if rows else np.zeros(0)  # noqa: E731
    u, step, dropped, matched, centre = cat("u"), cat("step"), cat("dropped"), cat("matched"), cat("centre")
    still, velocity, score = cat("still"), cat("velocity"), cat("score")
    n = max(len(u), 1)
    vanished = ~dropped & ~matched
    low = score < LOW
    total = lambda key: sum(r[key] for r in rows)  # noqa: E731
    r3 = lambda v: round(float(v), 3)  # noqa: E731
    return {"every": every, "boxes": len(u), "boxes_with_step": len(step), "unmoved": r3(u.mean()),
            "with_step": r3(step.mean()) if len(step) else None,
            "gain": r3(step.mean() - u.mean()) if len(step) else None,
            "loss": r3(1 - u.mean()), "loss_picture": r3((1 - u)[dropped].sum() / n),
            "loss_vanish": r3((1 - u)[vanished].sum() / n), "loss_centre": r3((centre - u)[matched].sum() / n),
            "loss_size": r3((1 - centre)[matched].sum() / n),
            "ceiling_centre_gain": r3(np.where(matched, centre, u).mean() - u.mean()),
            "ceiling_centre_size_gain": r3(np.where(matched, 1.0, u).mean() - u.mean()),
            "share_picture": r3(dropped.mean()), "share_vanished": r3(vanished.mean()),
            "vanished_still_detected": r3(still[vanished].mean()) if vanished.any() else None,
            "share_with_velocity": r3(velocity.mean()), "share_low_score": r3(low.mean()),
            "low_score_iou": r3(u[low].mean()) if low.any() else None,
            "truth_boxes": total("truth"), "appear": total("appear"),
            "covered_unmoved": total("covered"), "covered_with_step": total("covered_step")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="+")
    p.add_argument("--every", type=int, nargs="+", default=[2, 3, 5, 8], help="the model runs on every K-th frame")
    p.add_argument("--frames", type=int, default=300, help="frames of each clip")
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--input-size", type=int, default=None, help="network input (default: the model's)")
    args = p.parse_args()
    size = (args.input_size, args.input_size) if args.input_size else None
    detector = Detector.from_config(DetectorConfig(device="cpu", engine="eager", precision="fp32", input_size=size))
    keys = ["boxes", "boxes_with_step", "unmoved", "with_step", "gain", "loss", "loss_picture", "loss_vanish",
            "loss_centre", "loss_size", "ceiling_centre_gain", "ceiling_centre_size_gain", "share_with_velocity",
            "vanished_still_detected", "share_low_score", "low_score_iou", "appear", "truth_boxes",
            "covered_unmoved", "covered_with_step"]
    print("| clip | K | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for clip in args.clips:
        frames = read_frames(clip, args.frames)
        truth = [detector(image) for image, _ in frames]
        for every in args.every:
            d = decompose(frames, truth, every, args.threshold)
            print(f"| {Path(clip).name} | {every} | " + " | ".join(str(d[k]) for k in keys) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Faulty detections made from tracking ground truth, to measure association without images or a detector.

The fault model (seeded, so every figure can be reproduced), applied to each ground-truth box in turn:
  occlusion   each object starts a burst of missing frames with probability `burst_rate` per frame,
              `burst_frames` long (uniform in the range), so it vanishes for several frames and comes back;
  jitter      centre moved by a normal of `jitter` times the box's width / height, and each side scaled by
              a normal of `size_jitter` (a detector's boxes breathe from frame to frame);
  scores      a true box scores uniform in [0.5, 1.0], or with probability `low_score_rate` uniform in
              [0.1, 0.5) (partly hidden people are detected weakly: ByteTrack's second stage is for them);
  clutter     per frame, a Poisson number (mean `false_positives`) of boxes scoring uniform in
              [0.1, `false_positive_max_score`), sized like a random true box, anywhere in the scene's extent.
Detections are rows (frame, x1, y1, x2, y2, score, class 0), as `detection_files.frames_of` takes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from centernet.tracking.bytetrack import iou_matrix


@dataclass(frozen=True)
class FaultModel:
    seed: int = 0
    burst_rate: float = 0.05
    burst_frames: tuple[int, int] = (3, 12)
    jitter: float = 0.05
    size_jitter: float = 0.05
    low_score_rate: float = 0.3
    false_positives: float = 1.0
    false_positive_max_score: float = 0.45


def faulty_detections(gt: np.ndarray, model: FaultModel = FaultModel()) -> np.ndarray:
    """(N, 7) detection rows from (frame, id, x1, y1, x2, y2) ground-truth rows under `model`."""
    rng = np.random.default_rng(model.seed)
    hidden_until: dict[int, int] = {}
    rows = []
    for frame in range(1, int(gt[:, 0].max()) + 1):
        for _, obj, x1, y1, x2, y2 in gt[gt[:, 0] == frame]:
            obj = int(obj)
            if frame >= hidden_until.get(obj, 0) and rng.random() < model.burst_rate:
                hidden_until[obj] = frame + int(rng.integers(model.burst_frames[0], model.burst_frames[1] + 1))
            if frame < hidden_until.get(obj, 0):
                continue
            w, h = x2 - x1, y2 - y1
            cx = (x1 + x2) / 2 + rng.normal(0, model.jitter * w)
            cy = (y1 + y2) / 2 + rng.normal(0, model.jitter * h)
            w, h = w * max(rng.normal(1, model.size_jitter), 0.5), h * max(rng.normal(1, model.size_jitter), 0.5)
            low = rng.random() < model.low_score_rate
            score = rng.uniform(0.1, 0.5) if low else rng.uniform(0.5, 1.0)
            rows.append([frame, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, 0])
        for _ in range(rng.poisson(model.false_positives)):
            _, _, x1, y1, x2, y2 = gt[rng.integers(len(gt))]
            w, h = x2 - x1, y2 - y1
            x = rng.uniform(gt[:, 2].min(), gt[:, 4].max() - w)
            y = rng.uniform(gt[:, 3].min(), gt[:, 5].max() - h)
            rows.append([frame, x, y, x + w, y + h, rng.uniform(0.1, model.false_positive_max_score), 0])
    return np.array(rows, dtype=np.float64).reshape(-1, 7)


def track_rows(records) -> np.ndarray:
    """(frame, id, x1, y1, x2, y2) rows of tracked records (born tracks only), as `score_tracks` takes them."""
    rows = []
    for r in records:
        d = r.dets.numpy()
        for box, tid in zip(d["boxes"], d["track_ids"]):
            if tid > 0:
                rows.append([r.index + 1, tid, *box])
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def id_changes(rows: np.ndarray, min_iou: float = 0.5) -> int:
    """Frame-to-frame identity changes in (frame, id, x1, y1, x2, y2) track rows, without ground truth.

    Boxes of consecutive frames pair up when each is the other's best overlap (IoU >= `min_iou`); a pair
    whose ids differ is a change: a swap, or an object re-born under a new id. Mutual best overlaps keep a
    duplicate box (two ids on one object) from counting as a change of its neighbour."""
    changes = 0
    frames = {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0])}
    for frame, now in frames.items():
        before = frames.get(frame - 1)
        if before is None or not len(now):
            continue
        iou = iou_matrix(now[:, 2:6], before[:, 2:6])
        best_before, best_now = iou.argmax(axis=1), iou.argmax(axis=0)
        for i, j in enumerate(best_before):
            if best_now[j] == i and iou[i, j] >= min_iou and now[i, 1] != before[j, 1]:
                changes += 1
    return changes

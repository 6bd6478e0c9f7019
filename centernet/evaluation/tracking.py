"""Identity-aware tracking metrics (HOTA, IDF1, MOTA, ID switches) of MOTChallenge files, by TrackEval.

TrackEval (Luiten et al., the MOTChallenge's official evaluator) is an optional dependency: its wheel
requires `opencv-python`, which would replace the headless OpenCV that the Qt app needs, while the
metrics used here import only numpy and scipy. So install it without its dependencies:
`pip install --no-deps trackeval`. We feed its metric classes one sequence directly (IoU similarity of
every ground-truth box with every tracked box per frame); the MOTChallenge dataset class's extra
preprocessing (dropping tracker boxes on distractor classes) is not applied: ground-truth rows with
conf 0 (ignore regions) are dropped, everything else counts.
"""
from __future__ import annotations

import contextlib
import io

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from centernet.errors import ConfigError, InputError
from centernet.io.mot_files import read_mot_tracks
from centernet.tracking.bytetrack import iou_matrix

INSTALL_HINT = "pip install --no-deps trackeval  (--no-deps: its opencv-python would replace the headless OpenCV)"


@dataclass(frozen=True)
class TrackingScores:
    hota: float           # higher order tracking accuracy, mean over IoU thresholds 0.05..0.95
    det_a: float          # its detection part
    ass_a: float          # its association part
    idf1: float           # identity F1: the share of boxes given to the right identity
    mota: float           # 1 - (misses + false positives + ID switches) / ground-truth boxes
    id_switches: int
    fragmentations: int
    gt_tracks: int
    predicted_tracks: int
    frames: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sequence_data(gt: np.ndarray, tracks: np.ndarray) -> dict:
    """TrackEval's per-sequence input: ids renumbered 0.., IoU per frame, over every frame of either file."""
    frames = int(max(gt[:, 0].max(initial=0), tracks[:, 0].max(initial=0)))
    gt_ids, gt_inv = np.unique(gt[:, 1], return_inverse=True)
    tr_ids, tr_inv = np.unique(tracks[:, 1], return_inverse=True)
    data = {"num_timesteps": frames, "num_gt_ids": len(gt_ids), "num_tracker_ids": len(tr_ids),
            "num_gt_dets": len(gt), "num_tracker_dets": len(tracks), "gt_ids": [], "tracker_ids": [],
            "similarity_scores": []}
    for frame in range(1, frames + 1):
        g, t = gt[:, 0] == frame, tracks[:, 0] == frame
        data["gt_ids"].append(gt_inv[g].astype(int))
        data["tracker_ids"].append(tr_inv[t].astype(int))
        data["similarity_scores"].append(iou_matrix(gt[g, 2:6], tracks[t, 2:6]))
    return data


def evaluate_tracks(tracks_path: Path, gt_path: Path) -> TrackingScores:
    """Scores of a MOTChallenge tracks file against a ground-truth file."""
    gt = read_mot_tracks(gt_path, ground_truth=True)
    if not len(gt):
        raise InputError(f"{gt_path}: the ground truth has no boxes")
    return score_tracks(gt, read_mot_tracks(tracks_path))


def score_tracks(gt: np.ndarray, tracks: np.ndarray) -> TrackingScores:
    """Scores of (frame, id, x1, y1, x2, y2) track rows against ground-truth rows of the same layout."""
    try:
        # its package import prints a line about an optional dataset reader (BURST needs `tabulate`) we never use
        with contextlib.redirect_stdout(io.StringIO()):
            from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError:
        raise ConfigError(f"tracking metrics need TrackEval: {INSTALL_HINT}") from None
    data = sequence_data(gt, tracks)
    quiet = {"PRINT_CONFIG": False}
    hota = HOTA(quiet).eval_sequence(data)
    clear = CLEAR({**quiet, "THRESHOLD": 0.5}).eval_sequence(data)
    identity = Identity({**quiet, "THRESHOLD": 0.5}).eval_sequence(data)
    return TrackingScores(hota=float(np.mean(hota["HOTA"])), det_a=float(np.mean(hota["DetA"])),
                          ass_a=float(np.mean(hota["AssA"])), idf1=float(identity["IDF1"]),
                          mota=float(clear["MOTA"]), id_switches=int(clear["IDSW"]), fragmentations=int(clear["Frag"]),
                          gt_tracks=data["num_gt_ids"], predicted_tracks=data["num_tracker_ids"],
                          frames=data["num_timesteps"])

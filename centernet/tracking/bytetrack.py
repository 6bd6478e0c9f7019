"""ByteTrack (Zhang et al. 2022): Kalman motion, IoU assignment in two stages, lost tracks re-found.

Per frame: every track's box is predicted by its constant-velocity Kalman filter (`kalman.py`). Detections
scoring at least `high_score` are assigned to the confirmed tracks (tracked and lost) by IoU with the
Hungarian method; the detections between `low_score` and `high_score` then get a second chance against
the tracks still unmatched that were seen last frame; this is ByteTrack's point: an occluded person's
weak box keeps its id instead of being thrown away. Remaining high detections are then matched to the
tentative tracks (born last frame). A tentative track is confirmed, and gets the next id, once matched
`birth_age` frames in a row; a miss removes it. A confirmed track that misses becomes "lost": it keeps
being predicted and can be re-found for `lost_frames` frames. Classes never mix (IoU across classes
counts as none).

OC-SORT's observation-centric re-update (Cao et al. 2023, `reupdate_after_gap`): when a lost track is
re-found after a gap, the filter is rewound to its last observation and re-run over the gap with boxes
interpolated linearly to the new one, so the velocity it drifted on while unseen does not linger.

The tracker is a pure function of the detections fed to it, and `state_dict()` (JSON-ready; floats
round-trip) captures it exactly: a restored tracker gives the ids an uninterrupted one would.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from centernet.detections import Detections
from centernet.tracking.base import TrackerBase, detection_arrays
import centernet.tracking.kalman as kalman

TENTATIVE, TRACKED, LOST = "tentative", "tracked", "lost"


@dataclass(frozen=True)
class ByteTrackConfig:
    # ByteTrack's 0.5 / 0.6 suit YOLOX's scores; CenterNet scores people lower (its own display threshold is
    # 0.3), so, as CenterTrack's tracking threshold, 0.4 starts and first-stage-matches a track
    high_score: float = 0.4          # first-stage detections (ByteTrack's track_thresh)
    low_score: float = 0.1           # second-stage detections are in [low_score, high_score)
    new_track_score: float = 0.4     # an unmatched detection starts a track only above this
    match_iou: float = 0.2           # least IoU for a first-stage match (ByteTrack's match_thresh 0.8 on 1 - IoU)
    low_match_iou: float = 0.5       # least IoU for a second-stage match
    tentative_iou: float = 0.3       # least IoU to extend a tentative track
    birth_age: int = 2               # consecutive matched frames before a track gets an id
    lost_frames: int = 30            # frames a lost track can still be re-found (ByteTrack's track_buffer)
    reupdate_after_gap: bool = True  # OC-SORT's re-update over the gap when a lost track is re-found


@dataclass
class KalmanTrack:
    label: int
    mean: np.ndarray                 # Kalman state: cx, cy, aspect, height and their velocities
    covariance: np.ndarray
    last_box: np.ndarray             # xyxy of the last matched detection
    last_frame: int                  # frame number of that match
    observed_mean: np.ndarray        # the filter right after that match, for the re-update after a gap
    observed_covariance: np.ndarray
    state: str = TENTATIVE
    hits: int = 1
    id: int = -1                     # -1 until confirmed
    predicted: np.ndarray | None = None  # this frame's predicted box (xyxy); not state: set before matching

    def to_json(self) -> dict:
        return {"label": self.label, "mean": self.mean.tolist(), "covariance": self.covariance.tolist(),
                "last_box": self.last_box.tolist(), "last_frame": self.last_frame,
                "observed_mean": self.observed_mean.tolist(),
                "observed_covariance": self.observed_covariance.tolist(),
                "state": self.state, "hits": self.hits, "id": self.id}

    @staticmethod
    def from_json(d: dict) -> "KalmanTrack":
        arr = lambda key: np.array(d[key], dtype=np.float64)  # noqa: E731
        return KalmanTrack(int(d["label"]), arr("mean"), arr("covariance"), arr("last_box"), int(d["last_frame"]),
                           arr("observed_mean"), arr("observed_covariance"), str(d["state"]), int(d["hits"]),
                           int(d["id"]))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in `a` with every one in `b`."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    sides_a, sides_b = np.maximum(a[:, 2:] - a[:, :2], 0.0), np.maximum(b[:, 2:] - b[:, :2], 0.0)
    union = (sides_a[:, 0] * sides_a[:, 1])[:, None] + (sides_b[:, 0] * sides_b[:, 1])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def assign(iou: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Row-column pairs of the assignment that maximises total IoU, keeping pairs with IoU >= min_iou."""
    if iou.size == 0:
        return []
    gated = np.where(iou >= min_iou, iou, -1.0)      # a forbidden pair costs more than any allowed one gains
    rows, cols = linear_sum_assignment(gated, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


class ByteTracker(TrackerBase):
    """`ids = tracker.update(dets)` once per frame, in order: a track id per detection, -1 for none."""

    def __init__(self, config: ByteTrackConfig = ByteTrackConfig()):
        super().__init__(config)

    def reset(self) -> None:
        super().reset()
        self.frame = 0

    def update(self, dets: Detections) -> torch.Tensor:
        cfg = self.config
        boxes, scores, labels = detection_arrays(dets)
        ids = np.full(len(boxes), -1, dtype=np.int64)
        self.frame += 1
        if self.tracks:
            for track in self.tracks:
                if track.state != TRACKED:
                    track.mean[7] = 0.0              # an unseen track's height stops changing (as ByteTrack)
            means, covs = kalman.predict(np.stack([t.mean for t in self.tracks]),
                                         np.stack([t.covariance for t in self.tracks]))
            for track, mean, cov, box in zip(self.tracks, means, covs, kalman.xyah_to_xyxy(means)):
                track.mean, track.covariance, track.predicted = mean, cov, box

        high = np.flatnonzero(scores >= cfg.high_score).tolist()
        low = np.flatnonzero((scores >= cfg.low_score) & (scores < cfg.high_score)).tolist()
        confirmed = [t for t in self.tracks if t.id > 0]
        tentative = [t for t in self.tracks if t.id < 0]

        matches, high_left, confirmed_left = self._match(high, confirmed, boxes, labels, cfg.match_iou)
        recent = [t for t in confirmed_left if t.state == TRACKED]
        low_matches, _, _ = self._match(low, recent, boxes, labels, cfg.low_match_iou)
        tentative_matches, high_left, _ = self._match(high_left, tentative, boxes, labels, cfg.tentative_iou)

        matched = set()
        pairs = matches + low_matches + tentative_matches
        self._observe(pairs, boxes, kalman.xyxy_to_xyah(boxes))
        for i, track in pairs:
            if track.id < 0 and track.hits >= cfg.birth_age:
                track.id, self.next_id = self.next_id, self.next_id + 1
            if track.id > 0:
                track.state = TRACKED
            ids[i] = track.id
            matched.add(id(track))

        survivors = []
        for track in self.tracks:
            if id(track) not in matched:
                if track.id < 0 or self.frame - track.last_frame > cfg.lost_frames:
                    continue
                track.state = LOST
            survivors.append(track)
        for i in high_left:
            if scores[i] < cfg.new_track_score:
                continue
            mean, cov = kalman.initiate(kalman.xyxy_to_xyah(boxes[i]))
            track = KalmanTrack(int(labels[i]), mean, cov, boxes[i].copy(), self.frame, mean.copy(), cov.copy())
            if cfg.birth_age <= 1:
                track.id, track.state, self.next_id = self.next_id, TRACKED, self.next_id + 1
                ids[i] = track.id
            survivors.append(track)
        self.tracks = survivors
        return torch.from_numpy(ids)

    def _match(self, det_indices, tracks, boxes, labels, min_iou):
        """(matches as (detection index, track), detections left, tracks left)."""
        if not det_indices or not tracks:
            return [], list(det_indices), list(tracks)
        iou = iou_matrix(boxes[det_indices], np.stack([t.predicted for t in tracks]))
        same_class = labels[det_indices][:, None] == np.array([t.label for t in tracks])[None, :]
        pairs = assign(np.where(same_class, iou, 0.0), min_iou)
        used_d, used_t = {r for r, _ in pairs}, {c for _, c in pairs}
        return ([(det_indices[r], tracks[c]) for r, c in pairs],
                [i for k, i in enumerate(det_indices) if k not in used_d],
                [t for k, t in enumerate(tracks) if k not in used_t])

    def _observe(self, pairs: list, boxes: np.ndarray, measured: np.ndarray) -> None:
        """Correct each matched track's filter with its detection (one batched update for the usual case)."""
        gap_replays = [(i, t) for i, t in pairs if self.config.reupdate_after_gap and t.state == LOST
                       and self.frame - t.last_frame > 1]
        replayed = {id(t) for _, t in gap_replays}
        plain = [(i, t) for i, t in pairs if id(t) not in replayed]
        if plain:
            means, covs = kalman.update(np.stack([t.mean for _, t in plain]), np.stack([t.covariance for _, t in plain]),
                                        measured[[i for i, _ in plain]])
            for (_, track), mean, cov in zip(plain, means, covs):
                track.mean, track.covariance = mean, cov
        for i, track in gap_replays:
            # rewind to the last observation and walk the gap with boxes interpolated to the new one
            start = kalman.xyxy_to_xyah(track.last_box)
            mean, cov = track.observed_mean.copy(), track.observed_covariance.copy()
            gap = self.frame - track.last_frame
            for step in range(1, gap + 1):
                mean, cov = kalman.predict(mean, cov)
                mean, cov = kalman.update(mean, cov, start + (measured[i] - start) * step / gap)
            track.mean, track.covariance = mean, cov
        for i, track in pairs:
            track.observed_mean, track.observed_covariance = track.mean.copy(), track.covariance.copy()
            track.last_box, track.last_frame, track.hits = boxes[i].copy(), self.frame, track.hits + 1

    def state_dict(self) -> dict:
        """Everything `load_state_dict` needs to continue exactly (JSON-ready: floats round-trip)."""
        return {"config": asdict(self.config), "frame": self.frame, "next_id": self.next_id,
                "tracks": [t.to_json() for t in self.tracks]}

    def load_state_dict(self, state: dict) -> None:
        self.config = ByteTrackConfig(**state["config"])
        self.frame, self.next_id = int(state["frame"]), int(state["next_id"])
        self.tracks = [KalmanTrack.from_json(t) for t in state["tracks"]]

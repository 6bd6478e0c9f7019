"""Greedy tracking by centre distance scaled by size: CenterTrack's association rule without its head.

CenterTrack (Zhou et al. 2020, `src/lib/utils/tracker.py`) matches a detection to a track when the
squared distance between their centres is below both boxes' areas (w * h) and the classes agree,
greedily, the best-scoring detection first, each taking the nearest free track. CenterTrack moves the
detection back by the offset its tracking head predicts; without that head, the track is moved
forward instead, by its velocity (the smoothed displacement per frame of its last matches).

A new track is born (gets an id, 1, 2, ...) once it has been matched `birth_age` frames in a row; until
then its detections carry id -1, and a miss ends it. A born track survives `death_age` frames without
a match. The tracker is a pure function of the detections it is fed, and `state_dict()` captures it
exactly, so a resumed annotation run continues with the same ids.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from centernet.detections import Detections
from centernet.tracking.base import TrackerBase, detection_arrays


@dataclass(frozen=True)
class TrackerConfig:
    birth_age: int = 2              # consecutive matched frames before a track gets an id
    death_age: int = 15             # frames a born track survives without a match
    min_score: float = 0.0          # detections below this are not tracked (id -1)
    velocity_momentum: float = 0.5  # weight of the previous velocity when a new displacement arrives


@dataclass
class Track:
    box: np.ndarray                 # xyxy, image pixels, last matched
    label: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre displacement per frame
    hits: int = 1                   # consecutive frames matched while unborn; total matches after
    misses: int = 0                 # frames since the last match
    id: int = -1                    # -1 until born

    def predicted_center(self) -> np.ndarray:
        return centers(self.box[None])[0] + self.velocity * (self.misses + 1)


def centers(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def areas(boxes: np.ndarray) -> np.ndarray:
    """w * h with sides clamped to at least one pixel, so a degenerate box still has a scale."""
    return np.maximum(boxes[:, 2] - boxes[:, 0], 1.0) * np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)


def greedy_match(dist: np.ndarray, order) -> list[tuple[int, int]]:
    """(detection, track) pairs: each detection in `order` takes its nearest free track with finite cost."""
    dist = dist.copy()
    pairs = []
    for i in order:
        if dist.shape[1] == 0:
            break
        j = int(np.argmin(dist[i]))
        if np.isfinite(dist[i, j]):
            pairs.append((int(i), j))
            dist[:, j] = np.inf
    return pairs


class GreedyTracker(TrackerBase):
    """`ids = tracker.update(dets)` once per frame, in order: a track id per detection, -1 for none."""

    def __init__(self, config: TrackerConfig = TrackerConfig()):
        super().__init__(config)

    def update(self, dets: Detections) -> torch.Tensor:
        cfg = self.config
        boxes, scores, labels = detection_arrays(dets)
        ids = np.full(len(boxes), -1, dtype=np.int64)
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= cfg.min_score]

        pairs = []
        if self.tracks and order:
            det_c, det_a = centers(boxes), areas(boxes)
            trk_c = np.stack([t.predicted_center() for t in self.tracks])
            trk_a = areas(np.stack([t.box for t in self.tracks]))
            trk_l = np.array([t.label for t in self.tracks])
            dist = ((det_c[:, None, :] - trk_c[None, :, :]) ** 2).sum(axis=2)
            invalid = (dist > trk_a[None, :]) | (dist > det_a[:, None]) | (labels[:, None] != trk_l[None, :])
            dist[invalid] = np.inf
            pairs = greedy_match(dist, order)

        matched_tracks = set()
        for i, j in pairs:
            track = self.tracks[j]
            step = (centers(boxes[i:i + 1])[0] - centers(track.box[None])[0]) / (track.misses + 1)
            m = cfg.velocity_momentum if track.hits > 1 or track.id > 0 else 0.0
            track.velocity = m * track.velocity + (1 - m) * step
            track.box, track.hits, track.misses = boxes[i].copy(), track.hits + 1, 0
            if track.id < 0 and track.hits >= cfg.birth_age:
                track.id, self.next_id = self.next_id, self.next_id + 1
            ids[i] = track.id
            matched_tracks.add(j)

        survivors = []
        for j, track in enumerate(self.tracks):
            if j not in matched_tracks:
                track.misses += 1
                if track.id < 0 or track.misses > cfg.death_age:
                    continue
            survivors.append(track)
        matched_dets = {i for i, _ in pairs}
        for i in order:
            if i in matched_dets:
                continue
            track = Track(box=boxes[i].copy(), label=int(labels[i]))
            if cfg.birth_age <= 1:
                track.id, self.next_id = self.next_id, self.next_id + 1
                ids[i] = track.id
            survivors.append(track)
        self.tracks = survivors
        return torch.from_numpy(ids)

    def state_dict(self) -> dict:
        """Everything `load_state_dict` needs to continue exactly (JSON-ready: floats round-trip)."""
        return {"config": asdict(self.config), "next_id": self.next_id,
                "tracks": [{"box": [float(v) for v in t.box], "label": t.label,
                            "velocity": [float(v) for v in t.velocity], "hits": t.hits, "misses": t.misses,
                            "id": t.id} for t in self.tracks]}

    def load_state_dict(self, state: dict) -> None:
        self.config = TrackerConfig(**state["config"])
        self.next_id = int(state["next_id"])
        self.tracks = [Track(box=np.array(t["box"], dtype=np.float64), label=int(t["label"]),
                             velocity=np.array(t["velocity"], dtype=np.float64), hits=int(t["hits"]),
                             misses=int(t["misses"]), id=int(t["id"])) for t in state["tracks"]]

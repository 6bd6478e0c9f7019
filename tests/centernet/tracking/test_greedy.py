"""Greedy tracking by size-scaled centre distance: one id per object, births, deaths, exact resume."""
import json

import numpy as np
import torch

from centernet.detections import Detections
from centernet.tracking.greedy import GreedyTracker, TrackerConfig, greedy_match


def frame_dets(objects, t, rng, noise=1.5, drop=()):
    """Detections of moving boxes at time t: (label, x0, y0, vx, vy, w, h) each, jittered, shuffled scores."""
    rows = [(label, x0 + vx * t, y0 + vy * t, w, h) for k, (label, x0, y0, vx, vy, w, h) in enumerate(objects)
            if k not in drop]
    boxes, labels = [], []
    for label, cx, cy, w, h in rows:
        cx, cy = cx + rng.normal(0, noise), cy + rng.normal(0, noise)
        boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        labels.append(label)
    scores = rng.uniform(0.4, 0.9, len(rows))
    order = np.argsort(-scores)
    return Detections(boxes=torch.tensor(np.array(boxes).reshape(-1, 4)[order], dtype=torch.float32),
                      scores=torch.tensor(scores[order], dtype=torch.float32),
                      labels=torch.tensor(np.array(labels, dtype=np.int64)[order])), order


# label, x0, y0, vx, vy, w, h: two people crossing paths at different heights, a fast car, a slow bike
OBJECTS = [(0, 50, 200, 6, 0, 40, 100), (0, 600, 230, -6, 0, 40, 100), (2, 0, 400, 14, 1, 120, 60),
           (1, 300, 80, 1, 2, 50, 50)]


def run_clip(tracker, frames=60, seed=0, drops=None):
    """Per object, the list of ids it got (one entry per frame it was detected in)."""
    rng = np.random.default_rng(seed)
    seen = {k: [] for k in range(len(OBJECTS))}
    for t in range(frames):
        drop = (drops or {}).get(t, ())
        dets, order = frame_dets(OBJECTS, t, rng, drop=drop)
        present = [k for k in range(len(OBJECTS)) if k not in drop]
        ids = tracker.update(dets).tolist()
        for pos, src in enumerate(order):
            seen[present[src]].append(ids[pos])
    return seen


def test_moving_boxes_get_one_id_each_after_birth():
    seen = run_clip(GreedyTracker(TrackerConfig(birth_age=2)))
    ids = {k: set(v[1:]) for k, v in seen.items()}
    assert all(v[0] == -1 for v in seen.values())  # not yet born in the first frame
    assert all(len(s) == 1 for s in ids.values()), ids
    assert sorted(i for s in ids.values() for i in s) == [1, 2, 3, 4]


def test_an_object_missed_for_a_few_frames_keeps_its_id_and_a_lost_one_gets_a_new_id():
    drops = {t: (0,) for t in range(20, 25)}  # person 0 unseen for 5 frames (< death age 8)
    drops.update({t: (3,) for t in range(30, 45)})  # the bike unseen for 15 frames (> death age)
    seen = run_clip(GreedyTracker(TrackerConfig(birth_age=2, death_age=8)), drops=drops)
    assert len(set(seen[0][1:])) == 1
    bike = seen[3]
    assert len(set(bike[1:30])) == 1 and bike[30] == -1 and len(set(bike[31:])) == 1 and bike[31] != bike[1]


def test_a_one_frame_false_positive_gets_no_id():
    tracker = GreedyTracker(TrackerConfig(birth_age=2))
    box = Detections(torch.tensor([[10.0, 10, 50, 50]]), torch.tensor([0.9]), torch.tensor([0]))
    far = Detections(torch.tensor([[400.0, 400, 440, 440]]), torch.tensor([0.9]), torch.tensor([0]))
    assert tracker.update(box).tolist() == [-1]
    assert tracker.update(far).tolist() == [-1]
    assert tracker.update(far).tolist() == [1]
    assert tracker.ids_issued == 1


def test_distance_scaled_by_size_and_class_must_agree():
    tracker = GreedyTracker(TrackerConfig(birth_age=1))
    small = Detections(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0.9]), torch.tensor([0]))
    assert tracker.update(small).tolist() == [1]
    moved = Detections(torch.tensor([[11.0, 0, 21, 10]]), torch.tensor([0.9]), torch.tensor([0]))
    assert tracker.update(moved).tolist() == [2]  # moved 11 px: 121 > area 100, a new object
    near = Detections(torch.tensor([[20.0, 0, 30, 10], [12.0, 0, 22, 10]]), torch.tensor([0.9, 0.8]),
                      torch.tensor([5, 0]))
    assert tracker.update(near).tolist() == [3, 2]  # the other class does not take track 2


def test_greedy_match_serves_best_scores_first():
    dist = np.array([[1.0, 4.0], [0.5, np.inf]])
    assert greedy_match(dist, [0, 1]) == [(0, 0)]
    assert greedy_match(dist, [1, 0]) == [(1, 0), (0, 1)]


def test_state_dict_resumes_exactly():
    a = GreedyTracker()
    run_clip(a, frames=30, seed=3)
    b = GreedyTracker()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    for t in range(30, 50):
        da, _ = frame_dets(OBJECTS, t, rng_a)
        db, _ = frame_dets(OBJECTS, t, rng_b)
        assert a.update(da).tolist() == b.update(db).tolist()
    assert a.state_dict() == b.state_dict()

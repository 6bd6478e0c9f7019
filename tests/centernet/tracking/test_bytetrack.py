"""ByteTrack: Kalman motion, two-stage IoU association, lost tracks re-found, births, classes, exact resume."""
import json

import numpy as np
import pytest
import torch

from centernet.detections import Detections
from centernet.errors import ConfigError
from centernet.tracking import ByteTrackConfig, ByteTracker, GreedyTracker, make_tracker
from centernet.tracking import kalman
from centernet.tracking.bytetrack import assign, iou_matrix


def dets(rows):
    """Detections from (x1, y1, x2, y2, score, label) rows."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return Detections(torch.tensor(a[:, :4], dtype=torch.float32), torch.tensor(a[:, 4], dtype=torch.float32),
                      torch.tensor(a[:, 5], dtype=torch.int64))


def walker(t, x0, vx, y=100.0, w=40.0, h=100.0, score=0.9, label=0):
    x = x0 + vx * t
    return (x, y, x + w, y + h, score, label)


def test_kalman_learns_a_constant_velocity():
    mean, cov = kalman.initiate(kalman.xyxy_to_xyah(np.array([0.0, 0, 40, 100])))
    for t in range(1, 20):
        mean, cov = kalman.predict(mean, cov)
        mean, cov = kalman.update(mean, cov, kalman.xyxy_to_xyah(np.array([5.0 * t, 0, 5.0 * t + 40, 100])))
    assert mean[4] == pytest.approx(5.0, abs=0.1) and abs(mean[5]) < 0.1
    predicted, _ = kalman.predict(mean, cov)
    np.testing.assert_allclose(kalman.xyah_to_xyxy(predicted), [100, 0, 140, 100], atol=0.5)


def test_iou_and_assignment_maximise_overlap_and_gate():
    a = np.array([[0.0, 0, 10, 10], [20, 0, 30, 10]])
    iou = iou_matrix(a, np.array([[0.0, 0, 10, 5], [21, 0, 31, 10]]))
    assert iou[0, 0] == pytest.approx(0.5) and iou[1, 1] == pytest.approx(9 / 11) and iou[0, 1] == 0
    assert assign(iou, 0.6) == [(1, 1)]
    # greedy would give row 0 its best column 0 and leave row 1 nothing; the optimum pairs both
    assert assign(np.array([[0.9, 0.8], [0.7, 0.0]]), 0.5) == [(0, 1), (1, 0)]


def test_crossing_walkers_keep_their_ids_and_births_wait_a_frame():
    tracker = ByteTracker()
    seen = {0: [], 1: []}
    for t in range(60):  # they cross at t = 30, overlapping for several frames
        ids = tracker.update(dets([walker(t, 50, 6), walker(t, 410, -6, y=110)])).tolist()
        seen[0].append(ids[0])
        seen[1].append(ids[1])
    assert seen[0][0] == seen[1][0] == -1
    assert set(seen[0][1:]) == {1} and set(seen[1][1:]) == {2}


def test_an_occluded_walker_is_re_found_with_its_id_and_a_late_one_is_new():
    cfg = ByteTrackConfig(lost_frames=10)
    tracker = ByteTracker(cfg)
    ids = [tracker.update(dets([] if 20 <= t < 28 else [walker(t, 0, 8)])).tolist() for t in range(40)]
    assert {i for row in ids[1:] for i in row} == {1}  # 8 frames unseen, moving 8 px a frame: re-found
    tracker = ByteTracker(cfg)
    ids = [tracker.update(dets([] if 20 <= t < 35 else [walker(t, 0, 8)])).tolist() for t in range(40)]
    assert ids[19] == [1] and ids[35] == [-1] and ids[36] == [2]  # 15 frames > lost_frames: a new track


def test_low_score_boxes_keep_a_track_alive_but_never_start_one():
    tracker = ByteTracker()
    ids = []
    for t in range(30):
        score = 0.3 if 10 <= t < 20 else 0.9       # partly occluded: the detector is unsure
        ids.append(tracker.update(dets([walker(t, 0, 5, score=score), walker(t, 300, 0, y=300, score=0.3)])))
    assert [row[0] for row in ids[1:]] == [1] * 29  # the weak boxes carry id 1 (second stage)
    assert all(row[1] == -1 for row in ids)         # a weak-only object never becomes a track
    greedy_like = ByteTracker(ByteTrackConfig(low_score=0.5))  # no second stage: the weak frames get no id
    ids = [greedy_like.update(dets([walker(t, 0, 5, score=0.3 if 10 <= t < 20 else 0.9)])).tolist()[0]
           for t in range(30)]
    assert ids[10:20] == [-1] * 10


def test_classes_do_not_share_tracks():
    tracker = ByteTracker(ByteTrackConfig(birth_age=1))
    assert tracker.update(dets([(0, 0, 40, 100, 0.9, 0)])).tolist() == [1]
    assert tracker.update(dets([(1, 0, 41, 100, 0.9, 3), (2, 0, 42, 100, 0.8, 0)])).tolist() == [2, 1]


def test_reupdate_after_a_gap_replays_the_gap_with_interpolated_boxes():
    def run(reupdate, fill_gap=False):
        tracker = ByteTracker(ByteTrackConfig(reupdate_after_gap=reupdate))
        for t in range(31):  # walks right at 4 px a frame, unseen for 10 frames, at 6 px a frame from then on
            x = 4 * t if t < 20 else 80 + 6 * (t - 20)
            if 20 <= t < 30 and fill_gap:       # on the line from the last box seen (t 19) to the next (t 30)
                x = 76 + (140 - 76) * (t - 19) / 11
            unseen = 20 <= t < 30 and not fill_gap
            assert tracker.update(dets([] if unseen else [(x, 100, x + 40, 200, 0.9, 0)])).tolist() in ([], [-1], [1])
        assert [t.id for t in tracker.tracks] == [1]
        return tracker.tracks[0].mean
    # as if the linearly interpolated boxes had been seen: the same filter state as a run that saw them
    np.testing.assert_allclose(run(True), run(False, fill_gap=True), atol=1e-3)  # boxes pass through float32
    assert run(True)[4] == pytest.approx(6, abs=1)
    assert not np.allclose(run(True), run(False))


def random_frames(seed, frames):
    """Seeded clutter: five walkers with jitter, dropouts, score noise and low-score false positives."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(frames):
        rows = [walker(t, 40 * k, rng.choice([-3, 3]) if t == 0 else 3 - 1.5 * k, y=60 * k, score=rng.uniform(0.2, 1),
                       label=k % 2)
                for k in range(5) if rng.random() > 0.15]
        rows = [(x1 + rng.normal(0, 2), y1, x2, y2, s, c) for x1, y1, x2, y2, s, c in rows]
        rows += [(rng.uniform(0, 500), rng.uniform(0, 500), 0, 0, rng.uniform(0.1, 0.4), 0)] * int(rng.random() < 0.3)
        out.append(dets([(x1, y1, max(x2, x1 + 20), max(y2, y1 + 40), s, c) for x1, y1, x2, y2, s, c in rows]))
    return out


@pytest.mark.parametrize("name", ["bytetrack", "greedy"])
def test_state_dict_resumes_with_the_same_ids(name):
    frames = random_frames(5, 80)
    whole = make_tracker(name)
    expected = [whole.update(f).tolist() for f in frames]
    first = make_tracker(name)
    for f in frames[:37]:
        first.update(f)
    resumed = make_tracker(name)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert [resumed.update(f).tolist() for f in frames[37:]] == expected[37:]
    assert json.dumps(resumed.state_dict()) == json.dumps(whole.state_dict())
    assert max(max(row, default=-1) for row in expected) > 1  # the clip did issue ids


def test_make_tracker_names_and_options():
    assert isinstance(make_tracker("greedy"), GreedyTracker)
    assert make_tracker("bytetrack", ByteTrackConfig(birth_age=3)).config.birth_age == 3
    with pytest.raises(ConfigError, match="unknown tracker 'sort'"):
        make_tracker("sort")
    with pytest.raises(ConfigError, match="ByteTrackConfig"):
        make_tracker("bytetrack", object())

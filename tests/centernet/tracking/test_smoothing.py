"""One-Euro smoothing: less jitter at rest, little lag in motion, per track, on real time; the live tracker."""
import numpy as np
import pytest
import torch

from centernet.detections import Detections
from centernet.tracking import make_tracker, track_detections
from centernet.tracking.live import LiveTracker, LiveTrackingOptions
from centernet.tracking.smoothing import SmoothingConfig, TrackSmoother, one_euro_step, smoothing_factor

FPS = 25.0


def person(cx, cy=200.0, h=160.0, score=0.9, joints=False, rng=None, noise=0.0):
    """One person detection at centre (cx, cy), height h, optionally with 17 joints spread over the box."""
    jitter = (lambda shape: rng.normal(0.0, noise, shape)) if rng is not None else (lambda shape: np.zeros(shape))
    box = np.array([cx - h / 4, cy - h / 2, cx + h / 4, cy + h / 2]) + jitter(4)
    det = Detections(torch.tensor(box[None], dtype=torch.float32), torch.tensor([score]), torch.tensor([0]))
    if joints:
        offsets = np.stack([np.linspace(-h / 4, h / 4, 17), np.linspace(-h / 2, h / 2, 17)], axis=1)
        points = np.array([cx, cy]) + offsets + jitter((17, 2))
        det.keypoints = torch.tensor(points[None], dtype=torch.float32)
        det.keypoint_scores = torch.ones(1, 17)
    return det


def filtered_series(samples, times, scale, config=SmoothingConfig()):
    state, out = None, []
    for value, t in zip(samples, times):
        state = one_euro_step(state, np.atleast_1d(value), t, scale, config)
        out.append(state.value.copy())
    return np.array(out)[:, 0]


def test_the_smoothing_factor_is_the_low_pass_weight_of_a_new_sample():
    # alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi fc): at fc = 1 / (2 pi dt) a new sample weighs one half
    dt = 1 / FPS
    assert smoothing_factor(1 / (2 * np.pi * dt), dt) == pytest.approx(0.5)
    assert smoothing_factor(1000.0, dt) > 0.99 and smoothing_factor(0.01, dt) < 0.01


def test_a_still_point_jitters_far_less_and_stays_unbiased():
    rng = np.random.default_rng(0)
    times = np.arange(200) / FPS
    raw = 300.0 + rng.normal(0.0, 2.0, len(times))
    smooth = filtered_series(raw, times, scale=160.0)
    settled = smooth[25:]
    assert np.std(np.diff(settled)) < 0.25 * np.std(np.diff(raw[25:]))   # frame-to-frame jumps: the visible jitter
    assert abs(settled.mean() - 300.0) < 0.5


def test_a_moving_point_is_followed_with_little_lag():
    # a person walking two body heights a second (fast for a person): once moving, the cut-off rises with speed
    times = np.arange(100) / FPS
    truth = 100.0 + 320.0 * times
    smooth = filtered_series(truth, times, scale=160.0)
    lag_px = np.abs(smooth[20:] - truth[20:]).max()
    assert lag_px < 320.0 / FPS                     # less than the distance it moves in one frame
    # without the speed term (a plain low-pass at the rest cut-off) it would trail far more
    plain = filtered_series(truth, times, scale=160.0, config=SmoothingConfig(beta=0.0))
    assert np.abs(plain[20:] - truth[20:]).max() > 3 * lag_px


def test_smoothing_per_second_does_not_depend_on_the_frame_rate():
    # the same still, jittery point seen at 5 and at 25 frames a second settles equally fast in seconds
    step = lambda fps: filtered_series(np.r_[0.0, np.full(int(fps), 10.0)], np.arange(int(fps) + 1) / fps, 160.0)  # noqa: E731
    slow, fast = step(5.0), step(25.0)
    assert slow[-1] == pytest.approx(fast[-1], abs=0.5)   # where it is after one second


def test_first_sample_repeated_time_and_long_gap_pass_through():
    config = SmoothingConfig(forget_after_s=1.0)
    state = one_euro_step(None, np.array([5.0]), 0.0, 10.0, config)
    assert state.value[0] == 5.0
    state = one_euro_step(state, np.array([9.0]), 0.04, 10.0, config)
    assert 5.0 < state.value[0] < 9.0
    assert one_euro_step(state, np.array([7.0]), 0.04, 10.0, config).value[0] == 7.0   # same time: no division by 0
    assert one_euro_step(state, np.array([7.0]), 2.0, 10.0, config).value[0] == 7.0    # gap: a fresh start


def test_track_smoother_filters_each_track_on_its_own_and_leaves_unconfirmed_rows_raw():
    rng = np.random.default_rng(1)
    smoother = TrackSmoother()
    jumps_raw, jumps_smooth, prev_raw, prev_smooth = [], [], None, None
    for k in range(60):
        a = person(200.0, rng=rng, noise=3.0, joints=True)
        b = person(600.0, h=80.0, rng=rng, noise=3.0, joints=True)
        c = person(400.0, rng=rng, noise=3.0, joints=True)
        dets = Detections(*(torch.cat([getattr(x, f) for x in (a, b, c)]) for f in ("boxes", "scores", "labels")))
        dets.keypoints = torch.cat([a.keypoints, b.keypoints, c.keypoints])
        dets.keypoint_scores = torch.ones(3, 17)
        order = [1, 0, 2] if k % 2 else [0, 1, 2]             # row order changes: filters follow the ids
        dets = dets[torch.tensor(order)]
        dets.track_ids = torch.tensor([7, 3, -1])[torch.tensor(order)]
        out = smoother(dets, k / FPS)
        by_id = {int(t): i for i, t in enumerate(out.track_ids)}
        unconfirmed = by_id[-1]
        assert torch.equal(out.boxes[unconfirmed], dets.boxes[unconfirmed])
        assert torch.equal(out.keypoints[unconfirmed], dets.keypoints[unconfirmed])
        raw_now, smooth_now = dets.keypoints[by_id[7]].numpy(), out.keypoints[by_id[7]].numpy()
        if prev_raw is not None and k > 10:
            jumps_raw.append(np.abs(raw_now - prev_raw).mean())
            jumps_smooth.append(np.abs(smooth_now - prev_smooth).mean())
        prev_raw, prev_smooth = raw_now, smooth_now
        assert out.boxes[by_id[3]][0].item() == pytest.approx(600.0 - 20.0, abs=8.0)   # the far one stays itself
    assert np.mean(jumps_smooth) < 0.35 * np.mean(jumps_raw)
    assert set(smoother.filters) == {3, 7}


def test_track_smoother_forgets_tracks_that_left():
    smoother = TrackSmoother(SmoothingConfig(forget_after_s=0.5))
    dets = person(100.0)
    dets.track_ids = torch.tensor([4])
    smoother(dets, 0.0)
    none = Detections.empty()
    none.track_ids = torch.zeros(0, dtype=torch.int64)
    smoother(none, 1.0)
    assert smoother.filters == {}


def walk(k, x0=100.0, speed=8.0, **kw):
    return person(x0 + speed * k, **kw)


def test_live_tracker_gives_the_annotate_ids_trails_and_restarts_on_a_seek():
    frames = [Detections(*(torch.cat([getattr(d, f) for d in (walk(k), walk(k, x0=600, speed=-8, score=0.2))])
                           for f in ("boxes", "scores", "labels"))) for k in range(30)]
    live = LiveTracker(LiveTrackingOptions(track=True, trail_frames=5))
    reference = make_tracker()
    for k, dets in enumerate(frames):
        out = live.update(dets, k / FPS, threshold=0.3)
        expected = track_detections(reference, dets, 0.3)             # annotate's rule: threshold, then track
        assert torch.equal(out.dets.track_ids, expected.track_ids) and len(out.dets) == 1
    assert list(out.trails) == [1] and np.shape(out.trails[1]) == (5, 2)
    assert np.diff(np.array(out.trails[1])[:, 0]) == pytest.approx([8.0] * 4)   # oldest first, one centre a frame
    again = live.update(frames[0], 0.0, threshold=0.3)                  # a seek back: fresh tracks
    assert again.dets.track_ids.tolist() == [-1] and again.trails == {}


def test_live_tracker_smooths_without_showing_ids_when_only_smoothing():
    rng = np.random.default_rng(2)
    live = LiveTracker(LiveTrackingOptions(track=False, smooth=True))
    xs = []
    for k in range(40):
        out = live.update(person(300.0, rng=rng, noise=3.0), k / FPS, threshold=0.3)
        assert out.dets.track_ids is None and out.trails == {}
        xs.append(out.dets.boxes[0, 0].item())
    assert np.std(np.diff(xs[10:])) < 0.4 * 3.0 * np.sqrt(2)


def test_switching_smoothing_or_ids_keeps_the_tracks_and_another_tracker_starts_afresh():
    live = LiveTracker(LiveTrackingOptions(track=True))
    for k in range(5):
        out = live.update(walk(k), k / FPS, threshold=0.3)
    assert out.dets.track_ids.tolist() == [1]
    live.set_options(LiveTrackingOptions(track=True, smooth=True))          # the Smooth toggle
    assert live.update(walk(5), 5 / FPS, threshold=0.3).dets.track_ids.tolist() == [1]
    live.set_options(LiveTrackingOptions(track=False, smooth=True))         # ids off, then on again
    live.update(walk(6), 6 / FPS, threshold=0.3)
    live.set_options(LiveTrackingOptions(track=True, smooth=True))
    again = live.update(walk(7), 7 / FPS, threshold=0.3)
    assert again.dets.track_ids.tolist() == [1] and np.shape(again.trails[1]) == (1, 2)   # same id, a new trail
    live.set_options(LiveTrackingOptions(track=True, tracker="greedy"))     # another tracker: fresh ids
    assert live.update(walk(8), 8 / FPS, threshold=0.3).dets.track_ids.tolist() == [-1]

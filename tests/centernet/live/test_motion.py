"""The motion step: boxes of frames the model skipped moved by their measured optical flow, or along their
track's velocity (two-observation displacements, low-passed) where the flow cannot be measured; on a real clip
they match those frames' own detections better than the last model run's boxes left where they were, and
better than the velocity alone; the real-time benchmark's scoring on real frames."""
from __future__ import annotations

from dataclasses import replace

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from centernet.detections import Detections
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.live.frames import LiveFrame, Overlay, StreamResult
from centernet.live.motion import (PICTURE_CHANGE, MotionStep, flow_shifts, motion_step, moved, picture_change, sketch,
                                   track_velocities)
from centernet.live.motion_eval import best_iou_by_class, play_scored, score_shown, skipped_frame_iou, skipped_frames
from centernet.live.stream import stream
from centernet.tracking.bytetrack import ByteTracker
from tests.centernet.live.helpers import Slowed
from tests.conftest import DATA

VTEST = DATA / "video" / "vtest.avi"     # people walking, static camera, 10 fps
DEMO = Path(__file__).resolve().parents[3] / "assets" / "demo" / "bikes.mp4"   # 25 fps, a cut before frame 30


def person(box) -> Detections:
    return Detections(boxes=torch.tensor([box], dtype=torch.float32), scores=torch.tensor([0.9]),
                      labels=torch.tensor([0]))


def tracked_velocities(boxes_over_time: list, step_ms: float = 100.0) -> list[np.ndarray]:
    """The motion step's velocity after each update of a real ByteTracker fed one box per run."""
    tracker, memory, out = ByteTracker(), {}, []
    for k, box in enumerate(boxes_over_time):
        dets = person(box)
        tracker.update(dets)
        velocity, memory = track_velocities(tracker, dets, memory, k * step_ms)
        out.append(velocity)
    return out


def test_moved_boxes_follow_their_velocity_and_still_ones_stay():
    dets = Detections(boxes=torch.tensor([[10.0, 20.0, 30.0, 60.0], [100.0, 100.0, 120.0, 140.0]]),
                      scores=torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 0]),
                      keypoints=torch.zeros(2, 1, 2))
    velocity = np.array([[0.1, -0.05, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])   # px per ms of (cx, cy, aspect, h)
    out = moved(dets, velocity, 100.0)
    assert out.boxes[0].tolist() == pytest.approx([20.0, 15.0, 40.0, 55.0])
    assert out.boxes[1].tolist() == dets.boxes[1].tolist()
    assert out.keypoints[0, 0].tolist() == pytest.approx([10.0, -5.0])      # keypoints move with their box
    assert moved(dets, velocity, 0.0) is dets


def test_a_new_track_does_not_move_and_a_still_box_stays_put():
    velocities = tracked_velocities([[100.0, 50.0, 140.0, 150.0]] * 6)
    assert not np.any(velocities[0])                  # one observation: no velocity
    for v in velocities:
        assert np.all(v == 0.0)


def test_a_box_moving_at_constant_speed_lands_on_its_next_position():
    step = np.array([12.0, 3.0, 12.0, 3.0])          # 12 px right, 3 down per 100 ms
    boxes = [np.array([100.0, 50.0, 140.0, 150.0]) + k * step for k in range(9)]
    velocities = tracked_velocities([b.tolist() for b in boxes[:8]])
    assert not np.any(velocities[0])
    assert np.all(velocities[1][:, :2] > 0)           # the second observation starts it moving
    assert np.all(velocities[-1][:, 2:] == 0)         # only the centre moves: the size's jitter hurts
    ahead = moved(person(boxes[7].tolist()), velocities[-1], 100.0)
    assert ahead.boxes[0].tolist() == pytest.approx(boxes[8].tolist(), abs=0.5)
    halfway = moved(person(boxes[7].tolist()), velocities[-1], 50.0)
    assert halfway.boxes[0].tolist() == pytest.approx((boxes[7] + step / 2).tolist(), abs=0.5)


def test_velocity_is_per_ms_of_source_time_whatever_the_gap_between_runs():
    tracker, memory = ByteTracker(), {}
    for t_ms, x in ((0.0, 100.0), (300.0, 112.0), (400.0, 116.0), (1000.0, 140.0)):   # 0.04 px / ms throughout
        dets = person([x, 50.0, x + 40.0, 150.0])
        tracker.update(dets)
        velocity, memory = track_velocities(tracker, dets, memory, t_ms)
    assert velocity[0, 0] == pytest.approx(0.04 * (1 - 0.5 ** 3), abs=1e-9)   # low-passed up from half of it
    assert velocity[0, 1] == 0.0


def clip_frames(path, count: int) -> list:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, image = cap.read()
        assert ok, path
        frames.append(image)
    return frames


def test_across_a_cut_the_last_runs_boxes_are_not_shown_and_within_a_shot_they_move():
    frames = clip_frames(DEMO, 32)
    dets = person([300.0, 60.0, 360.0, 200.0])
    overlay = Overlay(LiveFrame(frames[25], 25, 1000.0, 0.0, 0.0), dets, {}, 0.0, 1, np.array([[0.1, 0.0, 0.0, 0.0]]))
    same_shot = motion_step(overlay, frames[26], 1040.0)
    assert len(same_shot) == 1 and not torch.equal(same_shot.boxes, dets.boxes)
    after_cut = motion_step(overlay, frames[31], 1240.0)
    assert len(after_cut) == 0 and after_cut.boxes.shape == (0, 4)
    still = replace(overlay, velocity=np.zeros((1, 4)))
    assert len(motion_step(still, frames[31], 1240.0)) == 0      # still boxes of another picture go too


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A grey picture with detail at every scale the flow looks at (blurred noise), as BGR."""
    noise = np.random.default_rng(seed).integers(0, 256, (h, w)).astype(np.uint8)
    grey = cv2.GaussianBlur(noise, (0, 0), 3.0)
    grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def translated(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), image.shape[1::-1],
                          borderMode=cv2.BORDER_REFLECT)


def test_the_flow_measures_where_a_boxs_content_went_and_a_flat_box_stays_unmeasured():
    before = textured(480, 640, 0)
    before[300:460, 20:200] = 128                                 # a flat patch: nothing to track
    now = translated(before, 9.0, -5.0)
    boxes = np.array([[200.0, 120.0, 280.0, 300.0],                 # textured: moved with the picture
                      [60.0, 330.0, 160.0, 430.0]])                 # inside the flat patch
    shift = flow_shifts(sketch(before), sketch(now), boxes)
    assert shift[0].tolist() == pytest.approx([9.0, -5.0], abs=0.5)
    assert np.isnan(shift[1]).all()
    assert flow_shifts(sketch(before), sketch(before), boxes)[0].tolist() == pytest.approx([0.0, 0.0], abs=0.01)
    outside = np.array([[700.0, 500.0, 760.0, 600.0], [-50.0, 10.0, 0.0, 0.0]])   # off the frame, and empty
    assert np.isnan(flow_shifts(sketch(before), sketch(now), outside)).all()
    assert flow_shifts(sketch(before), sketch(now), np.zeros((0, 4))).shape == (0, 2)


def test_an_object_moving_over_a_still_background_moves_its_box_and_only_its_box():
    background, thing = textured(480, 640, 1), textured(120, 60, 2)
    before, now = background.copy(), background.copy()
    before[200:320, 300:360] = thing
    now[206:326, 312:372] = thing                                  # 12 px right, 6 down
    dets = Detections(boxes=torch.tensor([[300.0, 200.0, 360.0, 320.0], [40.0, 40.0, 100.0, 160.0]]),
                      scores=torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 0]))
    velocity = np.array([[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])   # a wrong guess: the measurement wins
    overlay = Overlay(LiveFrame(before, 0, 0.0, 0.0, 0.0), dets, {}, 0.0, 1, velocity)
    shown = MotionStep()(overlay, now, 100.0)
    assert shown.boxes[0].tolist() == pytest.approx([312.0, 206.0, 372.0, 326.0], abs=1.0)
    assert shown.boxes[1].tolist() == pytest.approx([40.0, 40.0, 100.0, 160.0], abs=0.5)


def test_where_the_flow_fails_the_box_moves_along_its_track():
    flat = np.full((480, 640, 3), 90, np.uint8)                   # no texture anywhere: nothing is measured
    dets = person([300.0, 60.0, 360.0, 200.0])
    overlay = Overlay(LiveFrame(flat, 0, 1000.0, 0.0, 0.0), dets, {}, 0.0, 1, np.array([[0.1, 0.0, 0.0, 0.0]]))
    assert motion_step(overlay, flat.copy(), 1160.0).boxes[0].tolist() == pytest.approx([316.0, 60.0, 376.0, 200.0])
    still = replace(overlay, velocity=np.zeros((1, 4)))
    assert motion_step(still, flat.copy(), 1160.0).boxes.tolist() == dets.boxes.tolist()
    step = MotionStep()                                           # the consumer's: the same boxes, its sketch kept
    assert step(overlay, flat.copy(), 1160.0).boxes.tolist() == motion_step(overlay, flat, 1160.0).boxes.tolist()


def test_a_static_camera_never_counts_as_another_picture():
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent (../shared is not beside this checkout)")
    frames = clip_frames(VTEST, 40)
    changes = [picture_change(frames[i - k], frames[i]) for i in range(12, 40, 3) for k in (1, 5, 12)]
    assert max(changes) < PICTURE_CHANGE / 2 and min(changes) > 0.0   # measured at most 8.6 over the whole clip


@pytest.fixture(scope="module")
def vtest():
    """40 frames of vtest.avi and the default model's own detections on each (input 256: quick on a CPU)."""
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent (../shared is not beside this checkout)")
    detector = Detector.from_config(DetectorConfig(device="cpu", engine="eager", input_size=(256, 256)))
    cap = cv2.VideoCapture(str(VTEST))
    frames = []
    while len(frames) < 40:
        ok, image = cap.read()
        assert ok
        frames.append((image, len(frames) * 100.0))
    return detector, frames, [detector(image) for image, _ in frames]


def test_motion_step_raises_the_iou_of_skipped_frames_on_a_real_clip(vtest):
    detector, frames, truth = vtest
    for every in (2, 3):
        score = skipped_frame_iou(detector, frames, every, truth=truth)
        assert score["boxes"] > 100, score
        # measured: +0.064, +0.092 (the track's velocity alone: +0.023, +0.020; the Kalman velocity: +0.021, +0.011)
        assert score["iou_with_step"] > score["iou_without_step"] + 0.04, score


def test_the_measured_flow_beats_the_tracks_velocity_on_a_real_clip(vtest):
    _, frames, truth = vtest
    with_flow, along_tracks = [], []
    for f in skipped_frames(frames, 3, truth):
        own = f.truth.above(0.3)
        ahead_ms = frames[f.index][1] - f.overlay.frame.timestamp_ms
        with_flow += best_iou_by_class(f.shown, own)
        along_tracks += best_iou_by_class(moved(f.overlay.dets, f.overlay.velocity, ahead_ms), own)
    assert len(with_flow) > 100
    assert np.mean(with_flow) > np.mean(along_tracks) + 0.03    # measured: 0.759 against 0.687


def result(index: int, dets: Detections, inferred: bool, age: float | None = 100.0) -> StreamResult:
    return StreamResult(0, index, index * 100.0, None, dets, inferred, None, 0.0 if inferred else age, {}, 0)


def test_shown_boxes_are_scored_against_their_own_frames_detections_on_skipped_frames_only(vtest):
    _, frames, truth = vtest
    own = [d.above(0.3) for d in truth]
    stale = best_iou_by_class(own[10], own[13])               # frame 10's boxes shown on frame 13
    assert len(stale) > 3 and np.mean(stale) < 0.95
    relabelled = replace(own[10], labels=torch.full_like(own[10].labels, 5))   # a bus where people are: no match
    results = [result(10, own[10], True),                     # inferred: not scored
               result(11, own[11], False),                    # exactly its own boxes
               result(13, own[10], False),
               result(14, relabelled, False),
               result(15, own[15], False, age=None)]          # before the first model run: not scored
    score = score_shown(results, truth)
    assert (score.frames, score.skipped, score.boxes) == (5, 3, len(own[11]) + 2 * len(own[10]))
    expected = (len(own[11]) * 1.0 + sum(stale) + 0.0 * len(own[10])) / score.boxes
    assert score.mean_iou == pytest.approx(expected)
    assert score.mean_age_ms == pytest.approx(100.0)


def test_with_the_step_off_a_played_stream_shows_the_models_boxes_unmoved(vtest):
    detector, _, truth = vtest
    earlier = [d.above(0.3).boxes for d in truth]
    shown = []
    # slower than the clip's 10 fps whatever the machine's load: the model skips frames
    with stream(VTEST, detector=Slowed(detector, delay_s=0.25), motion=False) as results:
        for r in results:
            if r.frame_index >= 30:
                break
            shown.append(r)
    skipped = [r for r in shown if not r.inferred and r.overlay_age_ms is not None]
    assert skipped
    for r in skipped:   # the boxes of a frame the model ran on before, exactly
        assert any(torch.equal(r.detections.boxes, earlier[j]) for j in range(r.frame_index)), r.frame_index


def test_a_real_time_play_scores_the_same_skipped_frames_moved_and_unmoved(vtest):
    detector, _, truth = vtest
    score = play_scored(Slowed(detector, delay_s=0.25), str(VTEST), truth, max_frames=30)   # frames get skipped
    on, off = score.with_step, score.without_step
    assert score.runs > 0 and 0 < on.frames + score.unpaired <= 30      # results of frames 0-29 (a few may drop)
    assert (on.frames, on.skipped, on.boxes, on.mean_age_ms) == (off.frames, off.skipped, off.boxes, off.mean_age_ms)
    assert on.skipped > 0 and on.mean_iou is not None and off.mean_iou is not None
    assert score.runs_iou == pytest.approx(1.0)    # the truth is of the very frames played
    assert score.motion_ms is not None and 0.0 < score.motion_ms < 1000.0   # the step's own time, from the stream

"""A running stream's controls (what the window's buttons and toggles call): pause and single step, options and
the motion step switched at run time, another detector, on the real demo clip."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from centernet.detections import Detections
from centernet.errors import ConfigError
from centernet.live import StreamOptions
from centernet.live.stream import Stream
from centernet.tracking.live import LiveTrackingOptions

STEP_PX = 4.0


class WalkingDetector:
    """The real detector's interface (timings from a real forward pass on a corner), but one box walking right
    STEP_PX a run, `seconds` a run: slower than the 25 fps clip, so the model skips frames."""

    def __init__(self, detector, seconds: float = 0.12, score: float = 0.9):
        self._detector = detector
        self.seconds = seconds
        self.score = score
        self.calls = 0

    def __call__(self, image):
        time.sleep(self.seconds)
        timings = self._detector(image[:16, :16]).timings
        self.calls += 1
        x = 40.0 + STEP_PX * self.calls
        return Detections(torch.tensor([[x, 60.0, x + 50.0, 200.0]]), torch.tensor([self.score]), torch.tensor([0]),
                          timings=timings)

    def __getattr__(self, name):
        return getattr(self._detector, name)


def take(results: Stream, n: int, timeout_s: float = 30.0) -> list:
    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        r = results.poll(0.5)
        if r is not None:
            got.append(r)
    assert len(got) == n, f"{len(got)} of {n} results within {timeout_s} s"
    return got


def drain(results: Stream, seconds: float) -> list:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = results.poll(0.05)
        if r is not None:
            got.append(r)
    return got


def test_pause_reads_nothing_and_a_step_shows_the_next_frame_with_its_own_detections(bikes, small_detector):
    with Stream(str(bikes), WalkingDetector(small_detector, 0.05)) as results:
        take(results, 5)
        results.set_paused(True)
        assert results.paused
        drain(results, 0.5)                       # the frame in flight when paused
        assert drain(results, 0.6) == []          # then nothing
        last = results.states[0].frames_read
        results.step()
        stepped = take(results, 1)[0]
        assert stepped.inferred and stepped.overlay_age_ms == 0.0 and len(stepped.detections) == 1
        assert results.states[0].frames_read == last + 1
        assert drain(results, 0.5) == []          # one frame a step
        results.set_paused(False)
        assert not results.paused
        more = take(results, 5)
        assert more[0].frame_index > stepped.frame_index


def test_options_changed_at_run_time_apply_to_the_next_runs(bikes, small_detector):
    walking = WalkingDetector(small_detector, 0.02, score=0.5)
    with Stream(str(bikes), walking, StreamOptions(threshold=0.3)) as results:
        assert any(len(r.detections) == 1 for r in take(results, 10))
        results.set_options(replace(results.options, threshold=0.6))
        runs = results.inferences
        deadline = time.monotonic() + 20
        while results.inferences < runs + 2 and time.monotonic() < deadline:   # a run begun before the change
            results.poll(0.5)
        later = take(results, 10)
        assert all(len(r.detections) == 0 for r in later), [len(r.detections) for r in later]
        assert results.options_of(0).threshold == 0.6
        with pytest.raises(ConfigError, match="realtime"):
            results.set_options(replace(results.options, realtime=False))


def test_the_motion_toggle_moves_skipped_frames_boxes_or_leaves_them(bikes, small_detector):
    """Motion on: frames the model skipped get the walking box moved between the model's outputs (off the grid
    of STEP_PX steps the raw outputs lie on); off: a raw output as it was."""
    options = StreamOptions(motion=True, tracking=LiveTrackingOptions(track=False, smooth=False))
    with Stream(str(bikes), WalkingDetector(small_detector, 0.12), options) as results:

        def skipped_boxes(n_results: int) -> tuple[int, int]:
            """(skipped frames with a box, how many of those boxes lie off the walk's grid of raw outputs)."""
            boxes = [float(r.detections.boxes[0, 0]) for r in take(results, n_results)
                     if not r.inferred and len(r.detections) == 1]
            off = [x for x in boxes if abs((x - 40.0) / STEP_PX - round((x - 40.0) / STEP_PX)) > 0.05]
            return len(boxes), len(off)

        take(results, 25)                                   # the track is confirmed, its velocity known
        n, moved = skipped_boxes(40)
        assert n >= 10 and moved >= n // 2, (n, moved)
        results.set_options(replace(results.options, motion=False))
        take(results, 8)                                    # a run with the option off
        n, moved = skipped_boxes(40)
        assert n >= 10 and moved == 0, (n, moved)


def test_another_detector_takes_over_and_the_old_detections_go(bikes, small_detector):
    with Stream(str(bikes), WalkingDetector(small_detector, 0.02, score=0.5)) as results:
        # the first detections, however long the first run takes on a loaded machine, are the first model's
        first = next(r for r in results if len(r.detections))
        assert float(first.detections.scores[0]) == 0.5
        results.set_detector(WalkingDetector(small_detector, 0.02, score=0.8))
        got = take(results, 20)
        assert got[-1].inferred or got[-1].overlay_age_ms is not None
        tail = [r for r in got[5:] if len(r.detections)]
        assert tail and all(float(r.detections.scores[0]) == pytest.approx(0.8) for r in tail)


def test_seek_rerun_and_no_detector_yet(bikes, small_detector):
    """A stream starts with no model (every frame shown, nothing detected), takes one at run time; paused, a
    seek plus a step shows the frame sought and `rerun` runs the model on the frame on screen again."""
    with Stream(str(bikes), None) as results:
        first = take(results, 5)
        assert all(not r.inferred and r.overlay_age_ms is None and len(r.detections) == 0 for r in first)
        assert results.rerun() is False                     # no model to run
        results.set_detector(WalkingDetector(small_detector, 0.02))
        deadline = time.monotonic() + 20
        while results.inferences < 2 and time.monotonic() < deadline:
            results.poll(0.5)
        results.set_paused(True)
        drain(results, 0.6)
        results.seek(100)
        results.step()
        sought = take(results, 1)[0]
        assert sought.frame_index == 100 and sought.inferred
        runs = results.inferences
        assert results.rerun()
        again = take(results, 1)[0]
        assert again.frame_index == 100 and again.inferred and results.inferences == runs + 1
        assert float(again.detections.boxes[0, 0]) > float(sought.detections.boxes[0, 0])   # the walker's next run
        assert drain(results, 0.4) == []

"""Tracking in the window: ids and trails drawn, a Tracking stage timed, smoothing per task, the same ids as annotate."""
from __future__ import annotations

import numpy as np
import torch

from app.gui.controls import Controls
from centernet.classes import COCO_CLASSES
from centernet.detections import Detections
from centernet.io.render import color_for

from tests.app.conftest import wait_for_result
from tests.app.gui.conftest import SlowDetector

STEP_PX = 6.0
WALK_RUNS = 80


class WalkingDetector(SlowDetector):
    """The real detector's interface, but one person walking right STEP_PX a model run (plus optional jitter)
    for WALK_RUNS runs, then standing. The score tells which run a drawn box came from."""

    def __init__(self, detector, jitter_px: float = 0.0):
        super().__init__(detector, 0.01)
        self.calls = 0
        self.jitter_px = jitter_px

    def raw_x1(self, run: int) -> float:
        return 40.0 + STEP_PX * min(run, WALK_RUNS) + (self.jitter_px if run % 2 else -self.jitter_px)

    @staticmethod
    def run_of(score: float) -> int:
        return int(round((score - 0.5) * 1e4))

    def __call__(self, image):
        super().__call__(image[:8, :8])        # the sleep; the real model on a tiny crop keeps the timings real
        self.calls += 1
        x = self.raw_x1(self.calls)
        return Detections(torch.tensor([[x, 60.0, x + 50.0, 200.0]]), torch.tensor([0.5 + self.calls * 1e-4]),
                          torch.tensor([0]))


def near(image, y, x, color, tolerance=60) -> bool:
    """Pixel (x, y) or one next to it has `color` (anti-aliased lines spread over two pixels)."""
    patch = image[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(color)).sum(axis=1) <= tolerance).any())


def test_track_toggle_draws_ids_and_a_trail_and_times_the_tracker(live_window, qtbot):
    window = live_window
    pipeline = window.pipeline
    walking = WalkingDetector(pipeline.detector)
    pipeline.set_detector(walking)
    window.controls.toggles["track"].setChecked(True)
    assert pipeline.options.tracking.track and not pipeline.options.tracking.smooth   # smoothing starts off for boxes

    found = []

    def tracked_with_history(r):
        # confirmed, with a trail of a few points (a loop of the clip starts the tracks afresh), still walking
        ids = r.dets.track_ids if r.dets is not None else None
        if (not found and r.inferred and ids is not None and ids.tolist() == [1] and len(r.trails.get(1, [])) >= 3
                and WalkingDetector.run_of(r.boxes_drawn[0][5]) < WALK_RUNS):
            found.append(r)
    window.pipeline.result_ready.connect(tracked_with_history)   # every result the window gets
    window.pipeline.set_hold(True)                                # one result per model run
    qtbot.waitUntil(lambda: bool(found), timeout=60000)
    window.pipeline.result_ready.disconnect(tracked_with_history)
    result = found[0]
    x1, y1, x2, y2 = result.boxes_drawn[0][:4]
    color = color_for(1)                               # coloured by its track, not its class
    assert near(result.image, int(y1) + 15, int(round(x1)), color)     # the box's edge, above the trail
    # the trail: the segment between the last two centres, drawn in the track's colour
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    assert near(result.image, int(round(cy)), int(round(cx - STEP_PX / 2)), color)
    assert not near(result.frame.image, int(round(cy)), int(round(cx - STEP_PX / 2)), color)
    assert "track" in result.timings and result.timings["track"] < 50.0
    qtbot.waitUntil(lambda: window.latency.stage_labels["track"].text().endswith(" ms"), timeout=10000)

    window.controls.toggles["track"].setChecked(False)   # off: no ids, no trail
    off = wait_for_result(qtbot, window, lambda r: r.inferred and r.seq > result.seq and r.dets is not None
                          and r.dets.track_ids is None, timeout=60000)
    bx1, by1, bx2, by2 = off.boxes_drawn[0][:4]
    mid = (int(round((by1 + by2) / 2)), int(round((bx1 + bx2) / 2 - STEP_PX / 2)))
    assert np.array_equal(off.image[mid], off.frame.image[mid])


def test_smoothing_steadies_a_jittery_box_in_the_window(live_window, qtbot):
    window = live_window
    pipeline = window.pipeline
    walking = WalkingDetector(pipeline.detector, jitter_px=4.0)
    pipeline.set_detector(walking)
    window.controls.toggles["smooth"].setChecked(True)
    drawn = {}                                          # model run -> the drawn (smoothed) x1

    def collect(r):
        if r.inferred and r.dets is not None and r.dets.track_ids is None and len(r.boxes_drawn) == 1:
            drawn[WalkingDetector.run_of(r.boxes_drawn[0][5])] = r.boxes_drawn[0][0]
    window.pipeline.result_ready.connect(collect)       # every result the window gets, not only the last one
    window.pipeline.set_hold(True)                      # one result per model run
    qtbot.waitUntil(lambda: walking.calls > WALK_RUNS, timeout=90000)
    window.pipeline.result_ready.disconnect(collect)
    runs = [run for run in sorted(drawn) if run - 1 in drawn and 5 < run < WALK_RUNS]
    assert len(runs) >= 15, sorted(drawn)
    smooth = np.array([drawn[run] - drawn[run - 1] for run in runs])
    raw = np.array([walking.raw_x1(run) - walking.raw_x1(run - 1) for run in runs])
    # the raw box steps 6 px +- 8 px of jitter per run; the smoothed one far more evenly
    assert np.std(smooth) < 0.5 * np.std(raw)


def test_smoothing_is_on_for_skeletons_by_default_and_remembered_per_task(qtbot):
    c = Controls()
    qtbot.addWidget(c)
    c.set_task("ctdet", COCO_CLASSES)
    assert {"track", "smooth"} <= {k for k, b in c.toggles.items() if b.isEnabled()}
    assert not c.toggles["smooth"].isChecked() and not c.toggles["track"].isChecked()
    c.set_task("multi_pose", ("person",))
    assert c.toggles["smooth"].isChecked() and c.draw_options().tracking.smooth
    c.toggles["smooth"].setChecked(False)
    c.set_task("ctdet", COCO_CLASSES)
    c.toggles["smooth"].setChecked(True)
    c.set_task("multi_pose", ("person",))
    assert not c.toggles["smooth"].isChecked()           # the choice made for pose models
    c.set_task("ctdet", COCO_CLASSES)
    assert c.toggles["smooth"].isChecked()               # ... and the one made for box models


def test_smoothing_choice_per_task_persists_between_windows(make_window, settings):
    window = make_window(load_model=False, open_last_source=False)
    window.controls.set_task("multi_pose", ("person",))
    window.controls.toggles["smooth"].setChecked(False)
    window.controls.toggles["track"].setChecked(True)
    window.close()
    again = make_window(load_model=False, open_last_source=False)
    assert again.controls.toggles["track"].isChecked()
    again.controls.set_task("multi_pose", ("person",))
    assert not again.controls.toggles["smooth"].isChecked()
    again.controls.set_task("ctdet", COCO_CLASSES)
    assert not again.controls.toggles["smooth"].isChecked()


def test_smooth_flags_apply_to_their_run_only_until_switched_in_the_window(make_window, settings):
    """`gui --no-smooth` turns smoothing off for every task of that run and is not remembered; switching
    the toggle in the window is a choice, remembered for its task as always."""
    window = make_window(load_model=False, open_last_source=False, smooth=False)
    for task, names in (("multi_pose", ("person",)), ("ctdet", COCO_CLASSES)):
        window.controls.set_task(task, names)
        assert not window.controls.toggles["smooth"].isChecked()
        assert not window.controls.draw_options().tracking.smooth
    window.close()
    plain = make_window(load_model=False, open_last_source=False)
    plain.controls.set_task("multi_pose", ("person",))
    assert plain.controls.toggles["smooth"].isChecked()        # the flag left no trace: pose models smooth
    plain.close()

    flagged = make_window(load_model=False, open_last_source=False, smooth=True)
    flagged.controls.set_task("ctdet", COCO_CLASSES)
    assert flagged.controls.toggles["smooth"].isChecked()
    flagged.controls.toggles["smooth"].setChecked(False)       # the user's choice for box models
    flagged.controls.set_task("multi_pose", ("person",))
    assert flagged.controls.toggles["smooth"].isChecked()      # pose models: their own (default) choice again
    flagged.close()
    again = make_window(load_model=False, open_last_source=False)
    again.controls.set_task("ctdet", COCO_CLASSES)
    assert not again.controls.toggles["smooth"].isChecked()    # remembered
    again.controls.set_task("multi_pose", ("person",))
    assert again.controls.toggles["smooth"].isChecked()


def test_motion_toggle_moves_the_boxes_of_skipped_frames_or_leaves_them_and_persists(live_window, qtbot, make_window):
    """On (the default): frames the model skipped show the walking box moved between its runs (off the grid of
    STEP_PX steps the model's boxes lie on); off: the last run's box as it was. Remembered like the others."""
    window = live_window
    walking = WalkingDetector(window.pipeline.detector)
    walking.seconds = 0.15                              # about 6 runs a second against the 25 fps clip
    window.pipeline.set_detector(walking)
    assert window.controls.toggles["motion"].isChecked() and window.pipeline.stream.options.motion

    def skipped_boxes(n: int) -> tuple[int, int]:
        """(frames the model skipped with the walker drawn, how many of those boxes lie off the grid)."""
        xs = []

        def collect(r):
            if not r.inferred and len(r.boxes_drawn) == 1 and WalkingDetector.run_of(r.boxes_drawn[0][5]) < WALK_RUNS:
                xs.append(r.boxes_drawn[0][0])
        window.pipeline.result_ready.connect(collect)
        qtbot.waitUntil(lambda: len(xs) >= n, timeout=60000)
        window.pipeline.result_ready.disconnect(collect)
        off = [x for x in xs if abs((x - 40.0) / STEP_PX - round((x - 40.0) / STEP_PX)) > 0.05]
        return len(xs), len(off)

    qtbot.waitUntil(lambda: walking.calls >= 5, timeout=30000)   # a track with a velocity
    n, moved = skipped_boxes(15)
    assert moved >= n // 2, (n, moved)
    window.controls.toggles["motion"].setChecked(False)
    assert not window.pipeline.stream.options.motion
    runs = walking.calls
    qtbot.waitUntil(lambda: walking.calls >= runs + 2, timeout=30000)   # a run with the step off
    if walking.calls + 12 < WALK_RUNS:
        n, moved = skipped_boxes(12)
        assert moved == 0, (n, moved)
    window.close()
    again = make_window(load_model=False, open_last_source=False)
    assert not again.controls.toggles["motion"].isChecked()
    assert not again.controls.draw_options().motion

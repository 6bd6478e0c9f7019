"""The window's adapter over the live library: latest-wins publishing, the end of a file, the readout numbers,
recording."""
from __future__ import annotations

import time

import cv2
import numpy as np

from app.gui.live_adapter import LivePipeline, ShownFrame
from app.gui.recorder import Recorder
from app.gui.stats import PipelineStats, Rate


def frame(index, image=None):
    image = np.zeros((40, 60, 3), np.uint8) if image is None else image
    return ShownFrame(index, image, index * 40.0, time.perf_counter(), None, 0, False)


def test_the_newest_result_only_reaches_a_busy_gui(qtbot, bikes):
    """The presenter publishes latest-wins: while the GUI thread is busy one signal waits, for the newest result."""
    pipeline = LivePipeline()
    emitted = []
    pipeline.result_ready.connect(lambda r: emitted.append(r.seq))
    try:
        pipeline.open_source(str(bikes))
        deadline = time.monotonic() + 30
        while pipeline.published < 10 and time.monotonic() < deadline:
            time.sleep(0.05)                # the GUI thread busy: no event handled
        published = pipeline.published
        assert published >= 10
        qtbot.waitUntil(lambda: bool(emitted), timeout=5000)
        assert emitted[0] >= published      # the first the GUI gets is the newest, not the first of a queue
        qtbot.waitUntil(lambda: len(emitted) >= 5, timeout=10000)
        assert emitted == sorted(set(emitted))
    finally:
        assert pipeline.shutdown(timeout_ms=3000)


def three_images(folder):
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    return folder


def test_the_end_pauses_with_a_message_and_seek_step_and_play_go_on(qtbot, tmp_path):
    pipeline = LivePipeline()
    pipeline.set_realtime(False)
    shown, statuses = [], []
    pipeline.result_ready.connect(lambda r: shown.append(r.frame.index))
    pipeline.status.connect(statuses.append)
    try:
        with qtbot.waitSignal(pipeline.ended, timeout=10000):
            pipeline.open_source(str(three_images(tmp_path)))
        assert pipeline.paused and shown == [0, 1, 2] and statuses[-1] == "end of folder: press play to start again"
        pipeline.seek(0)
        qtbot.waitUntil(lambda: shown[-1] == 0 and len(shown) == 4, timeout=5000)
        pipeline.step()
        qtbot.waitUntil(lambda: len(shown) == 5, timeout=5000)
        qtbot.wait(300)
        assert shown == [0, 1, 2, 0, 1] and pipeline.paused   # one image per step, still paused
        pipeline.set_paused(False)
        with qtbot.waitSignal(pipeline.ended, timeout=5000):
            pass
        assert shown[-1] == 2
        with qtbot.waitSignal(pipeline.ended, timeout=5000):
            pipeline.set_paused(False)                           # play at the end: from the start again
        assert shown[-3:] == [0, 1, 2]
    finally:
        assert pipeline.shutdown(timeout_ms=3000)


def test_rate_counts_events_per_second_and_decays_when_they_stop():
    rate = Rate(window_s=3.0)
    for i in range(31):
        rate.tick(100.0 + i / 30)
    assert abs(rate.value(101.0) - 30.0) < 0.5
    assert rate.value(103.0) < 1.0          # nothing for 2 s
    slow = Rate(window_s=3.0)
    slow.tick(0.0)
    slow.tick(2.5)
    assert abs(slow.value(2.6) - 0.4) < 1e-6


def test_stats_readout_has_every_stage():
    class R:
        pass
    stats = PipelineStats()
    r = R()
    r.inferred, r.done_at, r.dropped, r.shown = True, time.perf_counter(), 7, 3
    r.inferences, r.inferred_at, r.overlay_age_ms = 1, time.perf_counter(), 120.0
    r.frame = frame(0)
    r.timings = {"capture": 1, "pre": 2, "net": 30, "decode": 1, "post": 0.5, "render": 2}
    stats.on_result(r)
    line = stats.readout("CPU", "RSS 1 MiB")
    for word in ("display", "inference", "overlay age 120 ms", "capture 1.0", "net 30.0", "render 2.0", "dropped 7", "CPU RSS 1 MiB"):
        assert word in line


def test_recorder_keeps_the_source_timing_by_repeating_frames(tmp_path):
    rec = Recorder(tmp_path / "r.mp4", fps=25)
    image = np.zeros((64, 96, 3), np.uint8)
    for index in (0, 1, 4, 5):              # frames 2 and 3 were dropped by the mailbox
        rec.write(image, index)
    rec.close()
    cap = cv2.VideoCapture(str(tmp_path / "r.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == 25
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == rec.frames == 6

"""The mailbox (latest frame wins, drops counted), latest-wins publishing, the readout numbers, recording."""
from __future__ import annotations

import time

import cv2
import numpy as np

from app.gui.capture import CapturedFrame
from app.gui.inference_worker import InferenceWorker
from app.gui.recorder import Recorder
from app.gui.stats import PipelineStats, Rate


def frame(index, image=None):
    image = np.zeros((40, 60, 3), np.uint8) if image is None else image
    return CapturedFrame(image, index, index * 40.0, time.perf_counter(), 1.0)


def test_mailbox_keeps_only_the_newest_frame_and_counts_the_dropped():
    worker = InferenceWorker()   # not started: nothing takes from the slot
    for i in range(5):
        worker.submit(frame(i))
    assert worker.received == 5 and worker.dropped == 4
    assert worker._slot.index == 4 and not worker.slot_empty()


def test_worker_publishes_only_the_newest_result_to_a_busy_gui(qtbot):
    worker = InferenceWorker()
    emitted = []
    worker.result_ready.connect(lambda r: emitted.append(r.seq))
    worker.start()
    try:
        for i in range(3):
            worker.submit(frame(i))
            qtbot.waitUntil(lambda: worker.published == i + 1 and worker.idle(), timeout=5000)
        qtbot.waitUntil(lambda: len(emitted) >= 1, timeout=5000)
        # the GUI took nothing yet: one signal in flight, the slot holds the newest result
        assert emitted == [1]
        assert worker.take_result().seq == 3
        assert worker.take_result() is None
    finally:
        worker.stop()
        assert worker.wait(2000)


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

"""The window on the demo clip with a seeded res_18: frames, overlays, readout, threshold, drops, close."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import Qt

from centernet.io.render import color_for

from centernet.inference.backends.torch_engine import cpu_has_native_bf16

from tests.app.conftest import INPUT, wait_for_result
from tests.app.gui.conftest import SlowDetector

# the CPU entry a window starts with: bf16 where oneDNN runs it natively
CPU_DEFAULT = ("cpu", "auto", "bf16" if cpu_has_native_bf16() else "fp32")


class ReplayDetector(SlowDetector):
    """Returns one stored result after a short sleep: a model of known, small latency."""

    def __init__(self, detector, dets, seconds: float = 0.02):
        super().__init__(detector, seconds)
        self.dets = dets
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        time.sleep(self.seconds)
        return self.dets


def pause_and_settle(qtbot, window):
    """Pause and wait until the pipeline is idle and its newest result is the one on screen."""
    window.pipeline.set_paused(True)
    pipeline = window.pipeline
    qtbot.waitUntil(lambda: window.pipeline.paused, timeout=5000)
    qtbot.waitUntil(lambda: pipeline.idle() and window.last_result is not None
                    and window.last_result.seq == pipeline.published, timeout=60000)


def set_threshold(qtbot, window, value: float):
    """Move the slider; return the first result drawn with the new threshold."""
    seq = window.last_result.seq
    window.controls.set_threshold(value)
    t = window.controls.threshold
    assert window.pipeline.options.render.threshold == t
    return wait_for_result(qtbot, window, lambda r: r.seq > seq and r.dets is not None, timeout=30000)


def edge_pixels(box, shape):
    """Integer pixels along the left (or right) edge of a drawn box that lie inside the image."""
    x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
    h, w = shape[:2]
    ys = np.arange(max(y1, 0) + 2, min(y2, h - 1) - 1)
    for x in (x1, x2):
        if 0 <= x < w and len(ys) >= 5:
            return [(x, int(y)) for y in ys]
    return []


def test_frames_are_displayed_and_overlay_draws_at_the_detected_box(live_window, qtbot):
    window = live_window
    pause_and_settle(qtbot, window)
    # a changed threshold runs the model again on the paused frame: the shown frame's own detections (the frame
    # on screen may be one the model skipped, showing the previous run's boxes, another frame's scores)
    own = set_threshold(qtbot, window, 0.1)
    assert own.result.inferred and len(own.dets)
    top = float(own.dets.scores.max())
    result = set_threshold(qtbot, window, np.floor(top * 100) / 100)
    assert result.shown >= 1
    qtbot.waitUntil(lambda: window.view._painted_seq == result.seq, timeout=5000)   # it reached the screen
    image = window.view.image()
    raw = result.frame.image
    assert window.view.source_size == (640, 272)
    assert (image.width(), image.height()) == (640, 272)   # the view is larger than the clip: not shrunk
    checked = 0
    for box in result.boxes_drawn:
        pts = edge_pixels(box, raw.shape)
        if not pts:
            continue
        b, g, r = color_for(int(box[4]))
        on_color = 0
        for x, y in pts:
            pixel = image.pixelColor(x, y)
            if abs(pixel.red() - r) + abs(pixel.green() - g) + abs(pixel.blue() - b) <= 30:
                on_color += 1
        # most of the edge shows the class colour; the raw frame there does not
        assert on_color >= 0.7 * len(pts), (box, on_color, len(pts))
        raw_on = sum(abs(int(raw[y, x, 2]) - r) + abs(int(raw[y, x, 1]) - g) + abs(int(raw[y, x, 0]) - b) <= 30
                     for x, y in pts)
        assert raw_on < 0.3 * len(pts)
        checked += 1
        break
    assert checked == 1
    # the painted widget shows the same colour where the box edge maps to
    grab = window.view.grab().toImage()
    x, y = pts[len(pts) // 2]
    point = window.view.map_from_image(x + 0.5, y + 0.5)
    ratio = grab.width() / window.view.width()
    near = [grab.pixelColor(int(point.x() * ratio) + dx, int(point.y() * ratio)) for dx in (-1, 0, 1)]
    assert min(abs(c.red() - r) + abs(c.green() - g) + abs(c.blue() - b) for c in near) <= 90


def test_fps_and_latency_labels_update(live_window, qtbot):
    panel = live_window.latency

    def number(label):
        try:
            return float(label.text().split()[0])
        except ValueError:
            return 0.0
    qtbot.waitUntil(lambda: number(panel.display_fps_label) > 0 and number(panel.inference_fps_label) > 0,
                    timeout=30000)
    for stage in ("capture", "pre", "net", "decode", "post", "render"):
        assert panel.stage_labels[stage].text().endswith(" ms"), stage
    assert number(panel.stage_labels["net"]) > 0
    assert number(panel.end_to_end_label) > 0
    assert "CPU" in panel.device_label.text()
    assert "RSS" in panel.memory_label.text()
    assert len(panel.chart.samples) >= 1


def test_threshold_slider_changes_how_many_boxes_are_drawn(live_window, qtbot):
    window = live_window
    pause_and_settle(qtbot, window)
    low = set_threshold(qtbot, window, 0.01)
    top = float(low.dets.scores.max())
    high = set_threshold(qtbot, window, np.floor(top * 100) / 100)
    assert low.shown > high.shown >= 1
    assert low.shown == len(low.boxes_drawn) and high.shown == len(high.boxes_drawn)
    assert not np.array_equal(low.image, high.image)
    none = set_threshold(qtbot, window, 0.99)
    if len(none.dets) == 0 or float(none.dets.scores.max()) < 0.99:   # (dets: those above the threshold)
        assert none.shown == 0
        assert np.array_equal(none.image, none.frame.image)   # nothing drawn: the frame itself


def test_dropped_frame_counter_rises_when_frames_are_held_and_the_model_is_slower_than_the_source(live_window, qtbot):
    window = live_window
    pipeline = window.pipeline
    window.pipeline.set_hold(True)                            # only inferred frames are shown
    pipeline.set_detector(SlowDetector(pipeline.detector, 0.3))   # < 3.3 fps against a 25 fps clip
    start = pipeline.dropped
    qtbot.waitUntil(lambda: pipeline.dropped >= start + 10, timeout=30000)
    qtbot.waitUntil(lambda: int(window.latency.dropped_label.text()) >= start + 10, timeout=5000)
    assert pipeline.received > pipeline.inferred + 10


def test_close_stops_both_threads_and_releases_the_source_within_one_second(live_window, qtbot, qtlog):
    window = live_window
    pipeline = window.pipeline
    # a model of known latency, so the measurement is about shutdown, not about one slow forward pass
    replay = ReplayDetector(pipeline.detector, window.last_result.dets)
    pipeline.set_detector(replay)
    qtbot.waitUntil(lambda: replay.calls >= 2, timeout=60000)   # the real forward pass in flight has ended
    capture, threads = pipeline.stream.threads[0], [*pipeline.stream.threads, pipeline.presenter]
    assert all(t.is_alive() for t in threads) and capture.source is not None
    start = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert not any(t.is_alive() for t in threads)
    assert capture.source is None   # released in its own thread
    assert not any("Destroyed while" in m.message for m in qtlog.records)


def test_shortcuts_pause_step_snapshot_and_record(live_window, qtbot):
    window = live_window
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.pipeline.paused, timeout=5000)
    pause_and_settle(qtbot, window)
    index = window.last_result.frame.index
    qtbot.keyClick(window, Qt.Key.Key_Right)
    wait_for_result(qtbot, window, lambda r: r.frame.index == index + 1, timeout=60000)

    qtbot.keyClick(window, Qt.Key.Key_S)
    path = window.last_snapshot
    assert window.finish_background(10.0)
    assert path.exists()
    png = cv2.imread(str(path))
    assert png.shape == window.last_result.image.shape

    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.recorder is not None and window.view.badge
    qtbot.keyClick(window, Qt.Key.Key_Space)           # play while recording
    qtbot.waitUntil(lambda: window.recorder.frames >= 3, timeout=60000)
    qtbot.keyClick(window, Qt.Key.Key_R)
    video = window.last_recording
    assert window.finish_background(5.0)
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames >= 3

    qtbot.keyClick(window, Qt.Key.Key_F)
    assert window.isFullScreen() or window.fullscreen_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert not window.fullscreen_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_heatmap_toggle_blends_the_centre_heatmap(live_window, qtbot):
    window = live_window
    pause_and_settle(qtbot, window)
    before = window.last_result
    window.controls.toggles["heatmap"].setChecked(True)
    after = wait_for_result(qtbot, window, lambda r: r.seq > before.seq and r.frame.index == before.frame.index
                            and window.pipeline.options.heatmap, timeout=60000)
    assert not np.array_equal(after.image, before.image)


def test_settings_persist_between_windows(make_window, qtbot, settings, bikes, seeded_res18):
    window = make_window(source=str(bikes), weights=str(seeded_res18), input_size=INPUT, load_model=False)
    window.controls.set_threshold(0.55)
    window.controls.toggles["labels"].setChecked(False)
    window.controls.class_filter.setText("person, car")
    window.close()
    again = make_window(load_model=False, open_last_source=False)
    assert again.controls.threshold == pytest.approx(0.55)
    assert not again.controls.toggles["labels"].isChecked()
    assert again.controls.class_filter.text() == "person, car"


def test_command_line_flags_apply_to_their_run_only(make_window, qtbot, settings, bikes, seeded_res18, tmp_path):
    """After `gui --weights X --loop --threshold 0.6 --input-size N --fast --source S` a plain launch is as before;
    a choice made in the window during such a run stays."""
    first = make_window(load_model=False, open_last_source=False)
    first.controls.set_threshold(0.35)
    first.close()
    before = {key: settings.value(key) for key in ("weights", "loop", "input_size", "realtime", "source", "engine")}
    flagged = make_window(source=str(bikes), weights=str(seeded_res18), input_size=INPUT, loop=True, realtime=False,
                          threshold=0.6, device="cpu", load_model=False)
    assert flagged.controls.weights == str(seeded_res18) and flagged.transport.loop_box.isChecked()
    flagged.controls.toggles["labels"].setChecked(False)   # chosen in the window: persists
    flagged.close()
    assert {key: settings.value(key) for key in before} == before
    plain = make_window(device=None, load_model=False, open_last_source=False)
    assert plain.controls.weights is None and not plain.transport.loop_box.isChecked()
    assert plain.transport.realtime_box.isChecked()
    assert plain.controls.threshold == pytest.approx(0.35)
    assert not plain.controls.toggles["labels"].isChecked()
    plain.close()
    # a flag's setting changed in the window is the user's choice: it stays
    changed = make_window(threshold=0.6, load_model=False, open_last_source=False)
    changed.controls.set_threshold(0.45)
    changed.close()
    assert make_window(load_model=False, open_last_source=False).controls.threshold == pytest.approx(0.45)


def test_engine_choice_persists_between_windows_and_the_command_line_wins(make_window, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the GPU entries; no model is loaded on them
    window = make_window(device=None)
    entries = [window.controls.engine.itemData(i) for i in range(window.controls.engine.count())]
    assert ("cuda", "graph", "bf16") in entries and window.controls.engine.currentData() != ("cuda", "graph", "bf16")
    window.controls.set_engine("graph", "bf16")         # the panel's choice, without loading a model on a fake GPU
    window.close()

    again = make_window(device=None)
    r = again.controls.model_request()
    assert (r.device, r.engine, r.precision) == ("cuda", "graph", "bf16")
    again.close()
    on_cuda = make_window(device="cuda")                 # --device cuda says nothing about precision
    assert on_cuda.controls.engine.currentData() == ("cuda", "graph", "bf16")
    on_cuda.close()
    fp32 = make_window(device=None, engine="graph", precision="fp32")
    assert fp32.controls.engine.currentData() == ("cuda", "graph", "fp32")
    fp32.close()
    assert make_window(device="cpu").controls.engine.currentData() == CPU_DEFAULT


def test_a_saved_gpu_engine_on_a_machine_without_cuda_falls_back_to_the_cpu(make_window, settings, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    settings.setValue("engine", "cuda/graph/fp16")
    window = make_window(device=None)
    assert window.controls.engine.currentData() == CPU_DEFAULT


def test_the_engine_of_the_loaded_model_is_saved(make_window, qtbot, settings, seeded_res18):
    window = make_window(weights=str(seeded_res18), input_size=INPUT)
    qtbot.waitUntil(lambda: window.detector is not None, timeout=60000)
    assert settings.value("engine") == "/".join(CPU_DEFAULT)


def test_view_menu_shows_and_hides_the_panels(make_window, qtbot):
    window = make_window(load_model=False, open_last_source=False)
    for dock in (window.controls_dock, window.latency_dock):
        action = dock.toggleViewAction()
        assert action.isEnabled(), dock.windowTitle()
        assert dock.isVisible()
        action.trigger()
        qtbot.waitUntil(lambda: not dock.isVisible(), timeout=2000)
        action.trigger()
        qtbot.waitUntil(dock.isVisible, timeout=2000)


def test_end_of_video_shows_after_the_last_frame_and_goes_on_play(live_window, qtbot):
    window = live_window
    pipeline = window.pipeline
    window.transport.loop_box.setChecked(False)
    window.transport.hold_box.setChecked(True)                 # the GUI toggle: only inferred frames are shown
    assert not pipeline.show_all
    pipeline.set_detector(SlowDetector(pipeline.detector, 0.3))   # frames wait in the pipeline when the end is read
    seen_at_end = []
    window.pipeline.status.connect(lambda m: m.startswith("end of") and seen_at_end.append(
        (pipeline.idle(), window.pipeline.published)))
    window.seek(244)
    qtbot.waitUntil(lambda: window.view.message.startswith("end of"), timeout=30000)
    idle, published = seen_at_end[0]
    assert idle                                               # nothing left to show when it was said
    qtbot.waitUntil(lambda: window.last_result.seq == published, timeout=5000)
    assert window.last_result.frame.index >= 244 and window.last_result.inferred
    window.toggle_pause()                                     # play from the end: the message goes
    qtbot.waitUntil(lambda: window.view.message == "", timeout=5000)


def test_a_bad_class_filter_is_not_brought_back(make_window, settings):
    window = make_window(load_model=False, open_last_source=False)
    window.controls.class_filter.setText("person")
    window.close()
    bad = make_window(load_model=False, open_last_source=False)
    from centernet.classes import COCO_CLASSES
    bad.controls.set_task("ctdet", COCO_CLASSES)           # what a loaded model's classes do
    bad.controls.class_filter.setText("persn, carr")
    bad.controls.class_filter.editingFinished.emit()
    assert not bad.controls.class_filter_error.isHidden()
    bad.close()
    assert make_window(load_model=False, open_last_source=False).controls.class_filter.text() == "person"


def test_a_snapshot_is_the_frame_on_screen_and_an_unwritable_folder_is_said_in_the_status_bar(make_window, qtbot,
                                                                                             bikes, tmp_path):
    window = make_window(source=str(bikes), loop=True, output_dir=tmp_path / "shots")
    wait_for_result(qtbot, window)
    pause_and_settle(qtbot, window)
    with qtbot.waitSignal(window.snapshot_written, timeout=10000) as written:
        path = window.snapshot()
    assert written.args == [path, ""]
    assert window.statusBar().currentMessage() == f"snapshot saved to {path}"
    assert np.array_equal(cv2.imread(str(path)), window.last_result.image)   # PNG: the very pixels shown

    blocker = tmp_path / "file"
    blocker.write_text("x")
    window.output_dir = blocker / "shots"      # below a regular file: no one can write there, root included
    with qtbot.waitSignal(window.snapshot_written, timeout=10000):
        bad = window.snapshot()
    message = window.statusBar().currentMessage()
    assert message.startswith(f"snapshot not saved: cannot write {bad}: ") and "\n" not in message
    assert message.endswith("; free space or make that folder writable") and window.last_error == message
    assert not blocker.is_dir() and window.isVisible()
    seq = window.last_result.seq
    window.pipeline.set_paused(False)           # the window goes on playing
    wait_for_result(qtbot, window, lambda r: r.seq > seq, timeout=30000)

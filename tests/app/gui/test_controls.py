"""The control panel: task-aware toggles, class filter, threshold, the model request it builds."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from centernet.classes import COCO_CLASSES
from centernet.inference.config import DetectorConfig

from app.gui.controls import Controls


def test_toggles_follow_the_task(qtbot):
    c = Controls()
    qtbot.addWidget(c)
    c.set_task("ctdet", COCO_CLASSES)
    enabled = {k for k, b in c.toggles.items() if b.isEnabled()}
    assert enabled == {"boxes", "labels", "heatmap", "track", "smooth", "motion"}
    c.set_task("multi_pose", ("person",))
    assert c.toggles["skeleton"].isEnabled() and not c.toggles["cuboids"].isEnabled()
    c.set_task("ddd", ("Car", "Pedestrian", "Cyclist"))
    assert c.toggles["cuboids"].isEnabled() and not c.toggles["skeleton"].isEnabled()
    assert not c.draw_options().render.skeleton      # a disabled toggle draws nothing


def test_toggle_tooltips_are_short_lines_and_motion_says_what_off_does(qtbot):
    c = Controls()
    qtbot.addWidget(c)
    c.set_task("ctdet", COCO_CLASSES)
    for key in ("track", "smooth", "motion"):
        tip = c.toggles[key].toolTip()
        assert tip and all(len(line) <= 100 for line in tip.splitlines()), tip   # Qt does not wrap plain text
    assert "optical flow" in c.toggles["motion"].toolTip() and "Off:" in c.toggles["motion"].toolTip()


def test_class_filter_and_threshold_make_the_render_options(qtbot):
    c = Controls()
    qtbot.addWidget(c)
    c.set_task("ctdet", COCO_CLASSES)
    with qtbot.waitSignal(c.options_changed) as blocker:
        c.set_threshold(0.42)
    assert blocker.args[0].render.threshold == 0.42 and c.threshold_label.text() == "0.42"
    c.class_filter.setText("person, car")
    assert c.draw_options().render.classes == frozenset({0, 2})
    c.class_filter.setText("person, unicorn")
    options = c.draw_options()
    assert options.render.classes is None and not c.class_filter_error.isHidden()
    assert "unicorn" in c.class_filter_error.text()


def usable(c):
    """The engine menu's entries that can be chosen (the others are listed disabled, with their reason)."""
    return [c.engine.itemData(i) for i in range(c.engine.count()) if c.engine.model().item(i).isEnabled()]


def test_model_request_reflects_the_panel(qtbot):
    c = Controls(cuda=False)
    qtbot.addWidget(c)
    assert {d for d, _, _ in usable(c)} == {"cpu"}   # no GPU options
    c.set_weights("/x/model.pth")
    c.set_input_size((384, 384))
    c.flip.setChecked(True)
    r = c.model_request()
    assert (r.weights, r.input_size, r.keep_res, r.device, r.flip) == ("/x/model.pth", (384, 384), False, "cpu", True)
    c.set_input_size("keep")
    assert c.model_request().keep_res and c.model_request().input_size is None
    c.set_input_size((416, 736))                      # not in the list: added
    assert c.model_request().input_size == (416, 736)
    gpu = Controls(cuda=True)
    qtbot.addWidget(gpu)
    assert [e for e in usable(gpu) if e[0] == "cuda"] == [
        ("cuda", "auto", "fp16"), ("cuda", "auto", "bf16"), ("cuda", "auto", "fp32"), ("cuda", "eager", "fp32"),
        ("cuda", "eager", "bf16"), ("cuda", "eager", "fp16"), ("cuda", "graph", "fp16"), ("cuda", "graph", "bf16"),
        ("cuda", "graph", "fp32"), ("cuda", "plain", "fp32")]
    r = gpu.model_request()
    assert (r.device, r.engine, r.precision) == ("cuda", "auto", "fp16")   # auto: the graph where it can run


def test_the_panel_holds_the_command_lines_config_whole_and_replaces_what_the_user_changes(qtbot):
    given = DetectorConfig(weights="/x/a.pth", arch="resdcn_18", task="multi_pose", scales=(1.0, 0.5),
                           calib=Path("/x/calib.txt"), device="cpu", precision="fp32")
    c = Controls(given, cuda=False)
    qtbot.addWidget(c)
    c.set_weights(given.weights)                       # what restore_settings does with --weights
    assert c.model_request() == given                  # nothing lost on the way through the panel
    sizes = [c.input_size.itemData(i) for i in range(c.input_size.count())]
    with qtbot.waitSignal(c.model_requested) as asked:
        c.input_size.setCurrentIndex(sizes.index((384, 384)))   # the user picks an input size
    assert asked.args[0] == replace(given, input_size=(384, 384))
    with qtbot.waitSignal(c.model_requested) as asked:
        c._set_weights("/x/b.pth")                     # another checkpoint: its own arch and task are read
    assert asked.args[0] == replace(given, weights="/x/b.pth", arch=None, task=None, input_size=(384, 384))
    with qtbot.waitSignal(c.model_requested) as asked:
        c._set_weights("/x/a.pth")                     # back to the command line's: its --arch / --task again
    assert asked.args[0] == replace(given, input_size=(384, 384))


def test_a_cpu_with_native_bfloat16_is_offered_bf16_first(qtbot):
    c = Controls(cuda=False, cpu_bf16=True)
    qtbot.addWidget(c)
    assert usable(c) == [("cpu", "auto", "bf16"), ("cpu", "auto", "fp32"), ("cpu", "eager", "fp32"),
                         ("cpu", "eager", "bf16"), ("cpu", "plain", "fp32")]
    assert c.model_request().precision == "bf16"
    plain = Controls(cuda=False, cpu_bf16=False, installed={"onnxruntime": True})
    qtbot.addWidget(plain)
    assert plain.model_request().precision == "fp32"
    assert usable(plain) == [("cpu", "auto", "fp32"), ("cpu", "eager", "fp32"), ("cpu", "onnxruntime", "fp32"),
                             ("cpu", "plain", "fp32")]
    plain.set_engine("onnxruntime", "fp32")
    assert plain.model_request().engine == "onnxruntime"
    vino = Controls(cuda=False, cpu_bf16=True, installed={"onnxruntime": True, "openvino": True})   # OpenVINO offered when installed
    qtbot.addWidget(vino)
    assert usable(vino) == [
        ("cpu", "auto", "bf16"), ("cpu", "auto", "fp32"), ("cpu", "eager", "fp32"), ("cpu", "eager", "bf16"),
        ("cpu", "onnxruntime", "fp32"), ("cpu", "openvino", "fp32"), ("cpu", "openvino", "bf16"), ("cpu", "plain", "fp32")]
    assert "fastest engine" in vino.engine.itemText(0)


def test_the_engine_menu_lists_every_backend_and_says_why_one_cannot_run(qtbot):
    from centernet.inference.backends.registry import BACKENDS
    c = Controls(cuda=False, cpu_bf16=False, installed={})
    qtbot.addWidget(c)
    entries = {c.engine.itemData(i)[1]: c.engine.itemText(i) for i in range(c.engine.count())}
    assert set(BACKENDS) <= set(entries)   # every registered backend, eager and plain included
    assert "needs CUDA" in entries["graph"] and "not installed" in entries["openvino"]
    bf16 = next(i for i in range(c.engine.count()) if c.engine.itemData(i) == ("cpu", "eager", "bf16"))
    assert not c.engine.model().item(bf16).isEnabled() and "no native bfloat16" in c.engine.itemText(bf16)


def test_source_picker_recognises_each_kind(qtbot, tmp_path):
    c = Controls()
    qtbot.addWidget(c)
    for spec, kind in (("3", "camera"), ("rtsp://host/s", "url"), (str(tmp_path), "folder"), ("/v/a.mp4", "file")):
        c.set_source(spec)
        assert c.source_kind.currentData() == kind
        with qtbot.waitSignal(c.source_requested) as blocker:
            c.open_button.click()
        assert blocker.args[0] == spec


def test_a_click_on_the_seek_bar_seeks_to_the_click_point(qtbot):
    from PyQt6.QtCore import QPoint, Qt
    from app.gui.controls import TransportBar
    bar = TransportBar()
    qtbot.addWidget(bar)
    bar.resize(900, 40)
    bar.show()
    bar.set_source(1000, True)
    slider = bar.seek_slider
    seeks = []
    bar.seek_requested.connect(seeks.append)
    for fraction in (0.75, 0.2):
        x = round(slider.width() * fraction)
        qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))
        assert seeks and abs(seeks[-1] - 1000 * fraction) < 60, (fraction, seeks)   # not one page step
    before = len(seeks)
    bar.set_position(500, 1000, 20000.0)    # playback moving the bar is not a seek
    bar.set_source(100, True)               # nor is a new source's range
    assert len(seeks) == before

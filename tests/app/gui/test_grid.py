"""The window's grid of streams: one tile per source through one `Stream` (one model), each tile playing its
own stream; a click selects a tile (the controls then change that stream's options only), a double-click
enlarges it, Esc returns; a source that never answers says failed on its tile while the others play (the
command line: tests/app/gui/test_headless_multi.py)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import Qt

from tests.app.conftest import DATA, INPUT, closed_port
from tests.stream_server import MJPEGServer

VTEST = DATA / "video" / "vtest.avi"


def tile_frame(window, i):
    """(seq, a copy of the picture) of what tile i shows now, or None before its first frame."""
    view = window.grid.tiles[i].view
    return None if view.array() is None else (view._seq, view.array().copy())


def wait_until_every_tile_moves(qtbot, window, timeout=90000):
    """Every tile shows a frame, then another one with a different picture."""
    n = len(window.grid.tiles)
    qtbot.waitUntil(lambda: all(tile_frame(window, i) is not None for i in range(n)), timeout=timeout)
    first = [tile_frame(window, i) for i in range(n)]

    def moved(i):
        now = tile_frame(window, i)
        return now[0] != first[i][0] and not np.array_equal(now[1], first[i][1])
    qtbot.waitUntil(lambda: all(moved(i) for i in range(n)), timeout=timeout)


def grid_position(window, i):
    row, column, _, _ = window.grid.layout_.getItemPosition(window.grid.layout_.indexOf(window.grid.tiles[i]))
    return row, column


def test_two_sources_play_in_two_tiles_through_one_stream(make_window, qtbot, bikes, seeded_res18):
    window = make_window(sources=(str(bikes), str(bikes)), weights=str(seeded_res18), input_size=INPUT, loop=True,
                         threshold=0.35, track=True)
    assert len(window.grid.tiles) == 2
    assert [grid_position(window, i) for i in (0, 1)] == [(0, 0), (0, 1)]      # side by side
    wait_until_every_tile_moves(qtbot, window)
    stream = window.pipeline.stream
    assert len(stream.states) == 2                       # one Stream, so one model thread, for both
    for state in stream.states:                          # the command line's options reach every stream
        assert state.options.threshold == pytest.approx(0.35) and state.options.tracking.track
    qtbot.waitUntil(lambda: all(i in window.results and window.results[i].dets is not None for i in (0, 1)),
                    timeout=90000)                        # the model's overlays reach each tile
    qtbot.waitUntil(lambda: all("playing" in window.grid.tiles[i].caption.text() for i in (0, 1)), timeout=10000)
    assert window.grid.tiles[1].caption.text().startswith(f"[1] {bikes.name} · display ")
    lines = window.latency.streams_label.text().splitlines()   # the performance panel: per stream and a total
    assert len(lines) == 5 and lines[0] == "2 of 2 streams playing"
    assert lines[2].startswith("[0] ") and lines[3].startswith("[1] ") and lines[4].startswith("total ")
    rates = [[float(v) for v in line.split()[1:3]] for line in lines[2:]]
    assert rates[2] == pytest.approx([rates[0][0] + rates[1][0], rates[0][1] + rates[1][1]], abs=0.11)


def test_four_sources_fill_a_two_by_two_grid_and_every_tile_plays(make_window, qtbot, bikes):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent")
    server = MJPEGServer(fps=15).start()
    try:
        window = make_window(sources=(str(bikes), str(VTEST), server.url, str(bikes)), loop=True)
        assert len(window.grid.tiles) == 4
        assert [grid_position(window, i) for i in range(4)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        wait_until_every_tile_moves(qtbot, window)
        assert window.grid.tiles[1].view.source_size == (768, 576)     # each tile its own stream
        assert window.grid.tiles[0].view.source_size == (640, 272)
    finally:
        server.stop()


def test_the_threshold_of_the_selected_tile_changes_its_stream_only(make_window, qtbot, bikes, seeded_res18):
    window = make_window(sources=(str(bikes), str(bikes)), weights=str(seeded_res18), input_size=INPUT, loop=True,
                         threshold=0.3)
    qtbot.waitUntil(lambda: all(i in window.results and window.results[i].dets is not None for i in (0, 1)),
                    timeout=90000)
    grid, stream = window.grid, window.pipeline.stream
    qtbot.mouseClick(grid.tiles[1].view, Qt.MouseButton.LeftButton)    # the view passes the click to its tile
    assert grid.selected == 1 and grid.tiles[1].selected and not grid.tiles[0].selected
    window.controls.set_threshold(0.45)          # the seeded model scores ~0.40-0.48: it cuts most boxes
    assert stream.states[1].options.threshold == pytest.approx(0.45)
    assert stream.states[0].options.threshold == pytest.approx(0.3)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(lambda: all(window.results[i].seq > seqs[i] + 2 for i in (0, 1)), timeout=30000)
    assert all(box[5] >= 0.45 for box in window.results[1].boxes_drawn)   # drawn at once
    # and the model keeps only those from its next run of stream 1 on
    qtbot.waitUntil(lambda: len(window.results[1].dets) and float(window.results[1].dets.scores.min()) >= 0.45,
                    timeout=30000)
    one, zero = window.results[1], window.results[0]
    assert all(box[5] >= 0.45 for box in one.boxes_drawn)
    assert any(box[5] < 0.45 for box in zero.boxes_drawn)              # stream 0 still draws from 0.3 up
    assert window.last_result.result.stream == 1                       # what the snapshot would save
    qtbot.mouseClick(grid.tiles[0].view, Qt.MouseButton.LeftButton)
    assert window.controls.threshold == pytest.approx(0.3)              # the controls show stream 0's again
    assert stream.states[0].options.threshold == pytest.approx(0.3)
    qtbot.mouseClick(grid.tiles[1].view, Qt.MouseButton.LeftButton)
    assert window.controls.threshold == pytest.approx(0.45)

def test_double_click_enlarges_a_tile_and_esc_returns_to_the_grid(make_window, qtbot, bikes):
    window = make_window(sources=(str(bikes), str(bikes), str(bikes)), loop=True)
    grid = window.grid
    assert [grid_position(window, i) for i in range(3)] == [(0, 0), (0, 1), (1, 0)]
    qtbot.mouseDClick(grid.tiles[2].view, Qt.MouseButton.LeftButton)
    assert grid.enlarged == 2 and grid.selected == 2
    assert [t.isVisible() for t in grid.tiles] == [False, False, True]
    qtbot.waitUntil(lambda: grid.tiles[2].view.width() > grid.tiles[2].view.minimumWidth() * 2, timeout=5000)
    qtbot.mouseDClick(grid.tiles[2].view, Qt.MouseButton.LeftButton)  # again: back to the grid
    assert grid.enlarged is None and all(t.isVisible() for t in grid.tiles)
    qtbot.mouseDClick(grid.tiles[1].view, Qt.MouseButton.LeftButton)
    assert grid.enlarged == 1
    window.exit_fullscreen.trigger()                                   # Esc's action
    assert grid.enlarged is None and all(t.isVisible() for t in grid.tiles)


def test_a_source_that_never_answers_says_failed_on_its_tile_while_the_other_plays(make_window, qtbot, bikes):
    url = f"http://127.0.0.1:{closed_port()}/cam.mjpg"
    window = make_window(sources=(str(bikes), url), loop=True, connect_timeout_s=2.0)
    qtbot.waitUntil(lambda: "failed" in window.grid.tiles[1].caption.text(), timeout=60000)
    assert window.grid.tiles[1].caption.text().startswith(f"[1] {url}")
    assert "no frame from" in window.grid.tiles[1].view.message
    assert window.grid.tiles[1].view.array() is None
    seq = window.results[0].seq
    qtbot.waitUntil(lambda: window.results[0].seq > seq + 10, timeout=30000)   # the clip goes on
    assert "playing" in window.grid.tiles[0].caption.text()
    assert window.latency.streams_label.text().startswith("1 of 2 streams playing")


def test_one_source_has_no_grid(make_window, bikes):
    window = make_window(source=str(bikes), sources=(str(bikes),))
    assert window.grid is None and window.latency.streams_label.isHidden()



def test_recording_and_the_source_panel_act_on_the_selected_tile(make_window, qtbot, bikes):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent")
    window = make_window(sources=(str(bikes), str(VTEST)), loop=True)
    grid = window.grid
    qtbot.mouseClick(grid.tiles[1].view, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: 1 in window.results, timeout=60000)
    window.toggle_recording()
    assert grid.tiles[1].view.badge and not grid.tiles[0].view.badge
    qtbot.waitUntil(lambda: window.recorder.frames >= 3, timeout=60000)
    window.toggle_recording()
    path = window.last_recording
    qtbot.waitUntil(lambda: path.exists() and cv2.VideoCapture(str(path)).read()[0], timeout=30000)
    ok, frame = cv2.VideoCapture(str(path)).read()
    assert frame.shape[:2] == (576, 768)               # stream 1's frames (vtest), not stream 0's (bikes)
    assert not grid.tiles[1].view.badge
    window.open_source(str(bikes))                     # the Source panel: the selected tile's source
    assert window.sources == (str(bikes), str(bikes))
    qtbot.waitUntil(lambda: grid.tiles[1].view.source_size == (640, 272), timeout=60000)


def heat_drawn(shown) -> bool:
    """The centre heatmap is blended over the picture: with no box drawn (threshold 0.99) only a heatmap changes
    most of its pixels."""
    return float(np.mean(np.any(shown.image != shown.frame.image, axis=2))) > 0.5


def plain(shown) -> bool:
    return np.array_equal(shown.image, shown.frame.image)


def pause_grid(qtbot, window):
    """Pause every stream and wait until nothing is left to draw and each tile shows its newest result."""
    pipeline = window.pipeline
    pipeline.set_paused(True)
    qtbot.waitUntil(lambda: pipeline.paused, timeout=5000)
    for _ in range(10):    # idle, and still idle a moment later (a frame waiting for its time may still come)
        qtbot.waitUntil(lambda: pipeline.idle() and window.results
                        and max(r.seq for r in window.results.values()) == pipeline.published, timeout=60000)
        published = pipeline.published
        qtbot.wait(600)
        if pipeline.published == published and pipeline.idle():
            return
    raise AssertionError("the paused grid kept publishing")


def newer_than(window, seqs):
    return lambda: all(window.results[i].seq > seqs[i] for i in seqs)


def test_the_heatmap_shows_on_the_selected_tile_and_follows_the_selection(make_window, qtbot, bikes, seeded_res18):
    window = make_window(sources=(str(bikes), str(bikes)), weights=str(seeded_res18), input_size=INPUT, loop=True,
                         threshold=0.99)
    qtbot.waitUntil(lambda: all(i in window.results and window.results[i].dets is not None for i in (0, 1)),
                    timeout=90000)
    window.controls.toggles["heatmap"].setChecked(True)          # tile 0 is selected
    qtbot.waitUntil(lambda: heat_drawn(window.results[0]), timeout=30000)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(newer_than(window, {0: seqs[0] + 5, 1: seqs[1] + 5}), timeout=30000)
    assert heat_drawn(window.results[0]) and plain(window.results[1])     # the other tile keeps its plain view
    assert set(window.pipeline._tapped.heats) == {0}                      # only its stream's runs are tapped

    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    assert window.controls.toggles["heatmap"].isChecked()                 # the toggle stays on: its tile moved
    assert window.pipeline.draw_of(1).heatmap and not window.pipeline.draw_of(0).heatmap
    qtbot.waitUntil(lambda: heat_drawn(window.results[1]), timeout=30000)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(newer_than(window, {0: seqs[0] + 5, 1: seqs[1] + 5}), timeout=30000)
    assert heat_drawn(window.results[1]) and plain(window.results[0])
    assert set(window.pipeline._tapped.heats) == {1}

    window.controls.toggles["heatmap"].setChecked(False)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(newer_than(window, {0: seqs[0] + 3, 1: seqs[1] + 3}), timeout=30000)
    assert plain(window.results[0]) and plain(window.results[1])


def test_paused_the_seek_bar_moves_the_selected_tiles_stream_only_with_its_own_heatmap(make_window, qtbot, bikes,
                                                                                      seeded_res18):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent")
    window = make_window(sources=(str(bikes), str(VTEST)), weights=str(seeded_res18), input_size=INPUT, loop=True,
                         threshold=0.99)
    qtbot.waitUntil(lambda: all(i in window.results and window.results[i].dets is not None for i in (0, 1)),
                    timeout=90000)
    slider = window.transport.seek_slider
    assert slider.maximum() == 249                      # bikes.mp4, tile 0 selected: 250 frames
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    assert slider.maximum() == 794 and slider.isEnabled()   # vtest.avi's 795 frames: the selected stream's
    assert "[1] video" in window.source_label.text() and "vtest.avi" in window.source_label.text()
    window.controls.toggles["heatmap"].setChecked(True)
    pause_grid(qtbot, window)
    before = {i: window.results[i] for i in (0, 1)}
    read = window.pipeline.stream.states[0].frames_read
    slider.setValue(600)                                # a click or key on the bar: a seek
    qtbot.waitUntil(lambda: window.results[1].frame.index == 600 and window.pipeline.idle(), timeout=60000)
    sought = window.results[1]
    assert sought.inferred and heat_drawn(sought)
    assert window.transport.position_label.text().startswith("[1] ") and "601 / 795" in window.transport.position_label.text()
    assert window.results[0].seq == before[0].seq       # stream 0 read nothing: it stays on its frame
    assert window.pipeline.stream.states[0].frames_read == read
    # the heatmap drawn is the one of the frame sought (stream 1's run), not of a run of stream 0
    from app.gui.heatmap import HeatmapTap, heat_to_image
    from centernet.io.render import draw_heatmap
    detector = window.pipeline.detector
    tap = HeatmapTap()
    tap.attach(detector)
    own = tap.compute(detector, sought.frame.image)
    other = tap.compute(detector, before[0].frame.image)
    tap.detach()

    def error(heat):
        drawn = draw_heatmap(sought.frame.image, heat, heat_to_image(detector, sought.frame.image.shape[:2], heat.shape))
        return float(np.abs(drawn.astype(float) - sought.image.astype(float)).mean())
    assert error(own) < 1.0 and error(other) > 3 * error(own) + 0.5, (error(own), error(other))
    # still paused, another tile selected: the heatmap moves there at once (the model runs its frame again)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.mouseClick(window.grid.tiles[0].view, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(newer_than(window, seqs), timeout=60000)
    qtbot.waitUntil(lambda: heat_drawn(window.results[0]) and plain(window.results[1]), timeout=60000)
    assert window.results[0].frame.index == before[0].frame.index and window.results[1].frame.index == 600


def test_real_time_and_hold_frames_act_on_every_stream_each_going_on_where_it_was(make_window, qtbot, bikes,
                                                                                   seeded_res18):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent")
    window = make_window(sources=(str(bikes), str(VTEST)), weights=str(seeded_res18), input_size=INPUT, loop=True)
    assert window.transport.every_stream_label.isVisibleTo(window)      # the UI says what the toggles act on
    assert "every stream" in window.transport.hold_box.toolTip()
    qtbot.waitUntil(lambda: all(i in window.results and window.results[i].dets is not None for i in (0, 1)),
                    timeout=90000)
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    window.transport.seek_slider.setValue(500)                           # stream 1 only, while playing
    qtbot.waitUntil(lambda: window.results[1].frame.index >= 500, timeout=30000)
    at = {i: window.results[i].frame.index for i in (0, 1)}
    assert at[0] < 400                                                   # stream 0 never jumped
    window.transport.hold_box.setChecked(True)
    qtbot.waitUntil(lambda: all(s.options.hold for s in window.pipeline.stream.states), timeout=10000)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(newer_than(window, {0: seqs[0] + 3, 1: seqs[1] + 3}), timeout=60000)
    assert all(window.results[i].inferred for i in (0, 1))              # only frames the model ran on, both
    # a new stream under the hood, each source started again where it was (not from its first frame)
    assert window.results[1].frame.index >= at[1] and window.results[0].frame.index >= at[0]
    window.transport.realtime_box.setChecked(False)
    qtbot.waitUntil(lambda: not any(s.options.realtime for s in window.pipeline.stream.states), timeout=10000)
    seqs = {i: window.results[i].seq for i in (0, 1)}
    qtbot.waitUntil(newer_than(window, {0: seqs[0] + 3, 1: seqs[1] + 3}), timeout=60000)
    assert window.results[1].frame.index >= at[1] and window.results[0].frame.index >= at[0]


def short_clip(path, frames=8, size=(320, 180)):
    """A real 25 fps MJPG .avi of `frames` frames (a moving bar): a clip that ends long before the demo clip."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    for i in range(frames):
        image = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.rectangle(image, (20 * i, 40), (20 * i + 30, 140), (0, 200, 255), -1)
        writer.write(image)
    writer.release()
    return path


def test_seeking_a_tile_whose_clip_ended_plays_it_again_while_the_other_goes_on(make_window, qtbot, bikes, tmp_path):
    clip = short_clip(tmp_path / "short.avi")
    window = make_window(sources=(str(clip), str(bikes)), loop=False)
    qtbot.waitUntil(lambda: "ended" in window.grid.tiles[0].caption.text(), timeout=60000)
    assert window.results[0].frame.index == 7
    assert "playing" in window.grid.tiles[1].caption.text() and not window.pipeline.paused
    assert window.transport.seek_slider.maximum() == 7 and window.transport.seek_slider.isEnabled()
    seq = window.results[1].seq
    window.transport.seek_slider.setValue(2)               # tile 0 is selected
    qtbot.waitUntil(lambda: window.results[0].frame.index in (2, 3, 4, 5, 6), timeout=30000)
    qtbot.waitUntil(lambda: window.results[0].frame.index == 7, timeout=30000)   # played on to its end again
    assert window.results[1].seq > seq and "playing" in window.grid.tiles[1].caption.text()
    qtbot.waitUntil(lambda: "ended" in window.grid.tiles[0].caption.text(), timeout=10000)


def test_five_tiles_with_their_captions_and_the_streams_table_fit_a_1440_pixel_window(make_window, qtbot, bikes):
    window = make_window(sources=(str(bikes),) * 5, loop=True)
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.latency.streams_label.isVisible()
                    and all("playing" in t.caption.text() for t in window.grid.tiles), timeout=60000)
    qtbot.wait(500)
    assert window.width() == 1440                          # the window did not grow past the screen's width
    assert not window.latency.chart.isVisible()            # the table stands in for the chart
    caption = window.grid.tiles[4].caption
    assert caption.width() < caption.fontMetrics().horizontalAdvance(caption.text())   # narrower than its text ...
    assert caption.toolTip() == caption.text()             # ... drawn elided, the whole text in its tooltip
    controls = window.controls
    assert controls.width() >= controls.minimumSizeHint().width()   # the Controls panel is not cut off
    assert controls.source_box.title() == "Source · tile [0]" and controls.display_box.title() == "Display · tile [0]"
    qtbot.mouseClick(window.grid.tiles[3].view, Qt.MouseButton.LeftButton)
    assert controls.source_box.title() == "Source · tile [3]"


def test_the_windows_own_messages_go_to_the_status_bar_and_leave_the_tiles_banners_alone(make_window, qtbot, bikes):
    url = f"http://127.0.0.1:{closed_port()}/cam.mjpg"
    window = make_window(sources=(url, str(bikes)), loop=True, connect_timeout_s=2.0)
    qtbot.waitUntil(lambda: "no frame from" in window.grid.tiles[0].view.message, timeout=60000)
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    assert window.latency_dock.windowTitle() == "Performance · tile [1]"
    qtbot.waitUntil(lambda: 1 in window.results, timeout=60000)
    with qtbot.waitSignal(window.snapshot_written, timeout=10000):   # said once written
        path = window.snapshot()
    assert "snapshot saved to" in window.statusBar().currentMessage()
    assert "no frame from" in window.grid.tiles[0].view.message       # stream 0's failure stays on its tile
    assert window.grid.tiles[1].view.message == ""
    qtbot.waitUntil(lambda: path.exists(), timeout=10000)
    assert cv2.imread(str(path)).shape[:2] == (272, 640)               # the selected tile's frame
    window._clear_banner()                                              # the message's timer running out
    assert "no frame from" in window.grid.tiles[0].view.message


def test_a_new_source_in_one_tile_keeps_every_tiles_own_options(make_window, qtbot, bikes):
    window = make_window(sources=(str(bikes), str(bikes)), loop=True, threshold=0.3)
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    window.controls.set_threshold(0.45)
    window.controls.source_edit.setText(str(bikes))
    window.open_source(str(bikes))                     # the Source panel: tile 1's source anew
    stream = window.pipeline.stream
    assert [s.options.threshold for s in stream.states] == [pytest.approx(0.3), pytest.approx(0.45)]
    assert window.controls.threshold == pytest.approx(0.45)
    qtbot.waitUntil(lambda: all(i in window.results for i in (0, 1)), timeout=60000)


def test_a_new_source_in_one_tile_keeps_the_heatmap_on_the_selected_tile_only(make_window, qtbot, bikes):
    window = make_window(sources=(str(bikes), str(bikes)), loop=True)
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    window.controls.toggles["heatmap"].setChecked(True)
    window.open_source(str(bikes))                     # the Source panel: tile 1's source anew
    assert [window.pipeline.draw_of(i).heatmap for i in (0, 1)] == [False, True]
    qtbot.mouseClick(window.grid.tiles[0].view, Qt.MouseButton.LeftButton)
    assert [window.pipeline.draw_of(i).heatmap for i in (0, 1)] == [True, False]


def test_a_model_loading_gives_every_tile_the_task_toggles_each_keeping_its_threshold(make_window, qtbot, bikes,
                                                                                      seeded_res18):
    window = make_window(sources=(str(bikes), str(bikes)), weights=str(seeded_res18), input_size=INPUT, loop=True,
                         threshold=0.3)
    qtbot.waitUntil(lambda: window.detector is not None, timeout=90000)
    qtbot.mouseClick(window.grid.tiles[1].view, Qt.MouseButton.LeftButton)
    window.controls.set_threshold(0.45)
    window.controls.toggles["track"].setChecked(True)      # tile 1's only, until a model sets the toggles
    window.controls.toggles["heatmap"].setChecked(True)
    assert [window.pipeline.draw_of(i).tracking.track for i in (0, 1)] == [False, True]
    with qtbot.waitSignal(window.pipeline.model_loaded, timeout=90000):
        window.load_model(window.controls.model_request())
    draws = [window.pipeline.draw_of(i) for i in (0, 1)]
    assert [d.tracking.track for d in draws] == [True, True]
    assert [d.render.threshold for d in draws] == [pytest.approx(0.3), pytest.approx(0.45)]
    assert [d.heatmap for d in draws] == [False, True]
    states = window.pipeline.stream.states
    assert [s.options.threshold for s in states] == [pytest.approx(0.3), pytest.approx(0.45)]
    assert all(s.options.tracking.track for s in states)

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

"""The window says what it did: no "recording saved" without a file; a threshold carried from the last run."""
from __future__ import annotations

import pytest


def test_recording_with_no_frame_says_nothing_was_saved(make_window, qtbot):
    window = make_window(load_model=False, open_last_source=False)
    window.toggle_recording()
    assert window.recorder is not None
    window.toggle_recording()
    assert "nothing saved" in window.view.message and "saved to" not in window.view.message
    assert getattr(window, "last_recording", None) is None
    assert not list((window.output_dir).glob("recording_*.mp4"))


def test_a_threshold_from_the_last_session_is_said_in_the_readout(make_window, qtbot, bikes, seeded_res18):
    first = make_window(source=str(bikes), load_model=False)
    first.controls.set_threshold(0.55)
    first.close()
    again = make_window(load_model=False, open_last_source=False)
    assert again.controls.threshold == pytest.approx(0.55)
    assert "threshold 0.55 from the last session" in again.latency.boxes_label.text()
    again.controls.set_threshold(0.4)                   # moved by hand: no longer carried over
    again.latency.set_drawn(0, 0)
    assert "last session" not in again.latency.boxes_label.text()
    given = make_window(load_model=False, open_last_source=False, threshold=0.55)
    assert "last session" not in given.latency.boxes_label.text()     # asked for on the command line

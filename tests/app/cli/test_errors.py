"""Bad sources and bad checkpoints give a visible message and no crash."""
from __future__ import annotations

from PyQt6.QtWidgets import QMessageBox

from tests.app.conftest import INPUT, closed_port, wait_for_result


def assert_shows_error(qtbot, window, *fragments):
    qtbot.waitUntil(lambda: window.view.message_level == "error" and bool(window.view.message), timeout=20000)
    for text in (window.view.message, window.statusBar().currentMessage(), window.last_error):
        for fragment in fragments:
            assert fragment in text, (fragment, text)
    assert window.isVisible()
    window.grab()   # still paints


def test_missing_file_shows_a_message(make_window, qtbot, tmp_path):
    window = make_window(source=str(tmp_path / "nope.mp4"))
    assert_shows_error(qtbot, window, "input not found", "nope.mp4")


def test_unopenable_url_shows_a_message_and_keeps_retrying(make_window, qtbot):
    url = f"http://127.0.0.1:{closed_port()}/x.mjpg"
    window = make_window(source=url)
    qtbot.waitUntil(lambda: "reconnect attempt 2" in window.view.message, timeout=20000)
    assert window.view.message_level == "warning"   # one policy for streams: retried until stopped (issue 21)
    for fragment in ("stream unreachable", "cannot open stream", url):
        assert fragment in window.view.message, (fragment, window.view.message)


def test_camera_index_that_does_not_exist_shows_a_message(make_window, qtbot):
    window = make_window(source="57")
    assert_shows_error(qtbot, window, "cannot open camera 57", "no camera with that index")
    assert "the ⟳ button in the Source panel lists them" in window.view.message   # the window's way, not a flag
    assert "--list-cameras" not in window.view.message


def test_bad_checkpoint_shows_a_dialog_with_the_library_message(make_window, qtbot, tmp_path, bikes, seeded_res18):
    truncated = tmp_path / "truncated.pth"
    data = seeded_res18.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    window = make_window(source=str(bikes), weights=str(truncated), input_size=INPUT)
    qtbot.waitUntil(lambda: window.message_box is not None and window.message_box.isVisible(), timeout=30000)
    box = window.message_box
    assert box.windowTitle() == "Cannot load model" and box.icon() == QMessageBox.Icon.Warning
    assert "cannot read" in box.text() and "truncated.pth" in box.text()   # the library's CheckpointError
    assert window.last_error == box.text() and window.view.message == box.text()
    # frames keep coming, without detections
    result = wait_for_result(qtbot, window, lambda r: r.frame.index >= 3, timeout=30000)
    assert result.dets is None and not result.inferred
    box.accept()


def test_file_that_is_no_checkpoint_at_all_shows_a_dialog(make_window, qtbot, tmp_path):
    bad = tmp_path / "notes.pth"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    window = make_window(weights=str(bad))
    qtbot.waitUntil(lambda: window.message_box is not None and window.message_box.isVisible(), timeout=30000)
    assert "notes.pth" in window.message_box.text()
    assert window.detector is None and window.isVisible()


def test_checkpoint_of_another_layout_shows_a_dialog(make_window, qtbot, tmp_path):
    import torch
    bad = tmp_path / "wrong.pth"
    torch.save({"state_dict": {"foo.weight": torch.zeros(3, 3)}}, bad)
    window = make_window(weights=str(bad))
    qtbot.waitUntil(lambda: window.message_box is not None and window.message_box.isVisible(), timeout=30000)
    assert "wrong.pth" in window.message_box.text() or "arch" in window.message_box.text()
    assert window.detector is None and window.isVisible()

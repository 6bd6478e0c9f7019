"""has_display: a screen a person can see decides `main.py` with no arguments (GUI or annotate)."""
from app.display import can_open_window, has_display


def test_offscreen_qt_is_no_display_even_with_an_x_server():
    env = {"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}
    assert not has_display(env, "linux")
    assert not has_display({"QT_QPA_PLATFORM": "minimal"}, "darwin")
    assert can_open_window(env, "linux"), "an offscreen window can still open (tests, screenshots)"


def test_linux_needs_x11_or_wayland_other_systems_always_have_a_screen():
    assert not has_display({}, "linux") and not can_open_window({}, "linux")
    assert has_display({"DISPLAY": ":1"}, "linux")
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_display({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, "linux")
    assert has_display({}, "darwin") and has_display({}, "win32")

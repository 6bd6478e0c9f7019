"""Whether a person can see a window here: decides `main.py` with no arguments (GUI or annotate) and `gui`."""
from __future__ import annotations

import os
import sys

# Qt platforms that draw into memory: a window opens, but nobody sees it.
INVISIBLE_QT_PLATFORMS = ("offscreen", "minimal")


def has_display(environ=None, platform: str | None = None) -> bool:
    """A screen a person can see: not under an offscreen Qt platform; on Linux an X11 or Wayland display."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if environ.get("QT_QPA_PLATFORM", "") in INVISIBLE_QT_PLATFORMS:
        return False
    if platform.startswith("linux"):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True  # macOS and Windows always have a screen session for a desktop user


def can_open_window(environ=None, platform: str | None = None) -> bool:
    """A visible display, or an invisible Qt platform asked for explicitly (tests, screenshots)."""
    environ = os.environ if environ is None else environ
    return has_display(environ, platform) or environ.get("QT_QPA_PLATFORM", "") in INVISIBLE_QT_PLATFORMS

"""`main.py gui`: the window (`--headless` is app/gui/headless.py, which needs no Qt)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from app.display import can_open_window
from app.gui.main_window import MainWindow, WindowOptions
from app.gui.theme import APP_NAME, apply_theme
from centernet.models.zoo import ASSETS
from centernet.errors import ConfigError
from centernet.inference.config import DetectorConfig


def run_gui(args, config: DetectorConfig) -> int:
    """The window; `config` is the model the command line asked for (`gui --headless` never comes here: no Qt)."""
    if not can_open_window():
        raise ConfigError("no display for the window: run with --headless, or set DISPLAY "
                          "(or QT_QPA_PLATFORM=offscreen)")
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    apply_theme(app)
    sources = tuple(getattr(args, "source_specs", None) or ())
    timeout = getattr(args, "connect_timeout", None)
    options = WindowOptions(source=args.source, threshold=args.threshold,
                            loop=True if args.loop or any(map(is_demo_clip, sources or [args.source])) else None,
                            realtime=False if args.fast else None,
                            hold=True if getattr(args, "hold_frames", False) else None,
                            track=True if getattr(args, "track", False) else None, smooth=getattr(args, "smooth", None),
                            sources=sources if len(sources) > 1 else (), connect_timeout_s=timeout or None)
    window = MainWindow(config, options)
    window.show()
    if getattr(args, "max_seconds", None):
        close_after(window, args.max_seconds)
    code = app.exec()
    return exit_now(code)


DEMO_CLIP = ASSETS / "demo" / "bikes.mp4"


def is_demo_clip(source) -> bool:
    """The shipped demo clip loops: on a slow machine it would end after a few annotated frames."""
    return source is not None and Path(str(source)).resolve() == DEMO_CLIP.resolve()


def close_after(window, seconds: float) -> None:
    """`--max-seconds` for the window: close it `seconds` after its model is ready (demos, screenshots, tests)."""
    from PyQt6.QtCore import QTimer

    def close() -> None:
        print(f"closing the window after {seconds:g} s", flush=True)
        window.close()

    started = []

    def start(*_) -> None:
        if not started:
            started.append(True)
            QTimer.singleShot(int(seconds * 1000), close)

    if window.pipeline.loading:
        window.pipeline.model_loaded.connect(start)
        window.pipeline.model_failed.connect(start)
    else:
        start()


def exit_now(code: int) -> int:
    """End the process as soon as the window has closed (it saved its settings and stopped its threads).

    A forward pass still running in the model thread cannot be interrupted, and tearing torch down under it
    aborts the process; waiting for it kept the process alive for seconds after the window closed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""`main.py gui`: the window, or with --headless the same pipeline printing its readout."""
from __future__ import annotations

import os
import sys

from app.display import can_open_window
from centernet.errors import ConfigError
from centernet.inference.config import DetectorConfig


def run_gui(args, config: DetectorConfig) -> int:
    """The window, or the headless run; `config` is the model the command line asked for."""
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold {args.threshold} is outside 0..1")
    if args.headless:
        from app.gui.headless import HeadlessOptions, run_headless
        options = HeadlessOptions(source=args.source, threshold=args.threshold, max_seconds=args.max_seconds,
                                  max_frames=args.max_frames, realtime=not args.fast, loop=args.loop,
                                  hold_frames=args.hold_frames)
        return run_headless(options, config)
    if not can_open_window():
        raise ConfigError("no display for the window: run with --headless, or set DISPLAY "
                          "(or QT_QPA_PLATFORM=offscreen)")
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import APP_NAME, MainWindow, apply_theme
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    apply_theme(app)
    window = MainWindow(source=args.source, weights=config.weights, threshold=args.threshold,
                        input_size=config.input_size, keep_res=config.keep_res, device=config.device,
                        engine=config.engine, precision=config.precision, arch=config.arch, task=config.task,
                        loop=True if args.loop else None, realtime=False if args.fast else None)
    window.show()
    return app.exec()

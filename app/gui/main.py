"""`main.py gui`: the window, or with --headless the same pipeline printing its readout."""
from __future__ import annotations

import os
import sys

from centernet.errors import ConfigError


def _model_request(args):
    from app.gui.inference_worker import ModelRequest
    size = getattr(args, "input_size", None)
    return ModelRequest(weights=args.weights, arch=args.arch, task=args.task, device=args.device,
                        input_size=tuple(size) if size else None, keep_res=bool(getattr(args, "keep_res", False)),
                        engine=getattr(args, "engine", "auto") or "auto",
                        precision=getattr(args, "precision", "fp32") or "fp32",
                        flip=bool(getattr(args, "flip", False)))


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_gui(args) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold {args.threshold} is outside 0..1")
    if args.headless:
        from app.gui.headless import run_headless
        return run_headless(args, _model_request(args))
    if not has_display():
        raise ConfigError("no display for the window: run with --headless, or set DISPLAY "
                          "(or QT_QPA_PLATFORM=offscreen)")
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import APP_NAME, MainWindow, apply_theme
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    apply_theme(app)
    window = MainWindow(source=args.source, weights=args.weights, threshold=args.threshold,
                        input_size=args.input_size, keep_res=args.keep_res, device=args.device,
                        engine=getattr(args, "engine", None), precision=getattr(args, "precision", None),
                        arch=args.arch, task=args.task,
                        loop=True if args.loop else None, realtime=False if args.fast else None)
    window.show()
    return app.exec()

"""The window's settings between sessions (QSettings): restored at start, saved on close."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QMainWindow

from app.gui.controls import TASK_TOGGLES, TOGGLES_OFF, engine_key
from app.gui.theme import APP_NAME
from centernet.inference.config import DetectorConfig

DEFAULTS = DetectorConfig()   # a field equal to its default was not given on the command line
# gui's own default precision (auto) and the library's (fp32) leave the engine menu's saved entry standing
UNPINNED_PRECISIONS = (DEFAULTS.precision, "auto")


def default_settings() -> QSettings:
    return QSettings(APP_NAME, APP_NAME)


def engine_given(config: DetectorConfig) -> bool:
    """Whether the command line chose the device, engine or precision (a value other than the default)."""
    return (config.device != DEFAULTS.device or config.engine != DEFAULTS.engine
            or config.precision not in UNPINNED_PRECISIONS)


def restore_settings(window: QMainWindow, config: DetectorConfig, source, threshold) -> None:
    """Settings of the last session; the command line's options (a source or threshold given, a config field
    other than its default) win over them."""
    s, c = window.settings, window.controls
    geometry = s.value("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    state = s.value("window_state")
    if state is not None:
        window.restoreState(state)
    c.set_source(source if source is not None else s.value("source", ""))
    saved = s.value("weights", "") or None
    if saved and not Path(saved).is_file():
        saved = None   # moved or deleted since: the default model, not an error dialog at start
    c.set_weights(config.weights if config.weights is not None else saved)
    c.set_threshold(threshold if threshold is not None else float(s.value("threshold", 0.3)))
    for key, box in c.toggles.items():
        if key != "smooth":
            box.setChecked(as_bool(s.value(f"toggles/{key}", key not in TOGGLES_OFF)))
    for task in TASK_TOGGLES:            # smoothing is remembered per task (on for skeletons until switched off)
        saved = s.value(f"toggles/smooth/{task}")
        if saved is not None:
            c.smooth_by_task[task] = as_bool(saved)
    c.set_task(c.task, c.class_names)
    c.class_filter.setText(s.value("classes", "") or "")
    size = "keep" if config.keep_res else config.input_size
    if size is None:
        saved = s.value("input_size", "")
        size = "keep" if saved == "keep" else (tuple(int(v) for v in str(saved).split("x")) if saved else None)
    c.set_input_size(size)
    c.set_engine_choice(s.value("engine", "") or "")   # the command line's device / engine below win
    if config.device != DEFAULTS.device:
        c.set_device(config.device)
    if config.engine != DEFAULTS.engine or config.precision not in UNPINNED_PRECISIONS:
        c.set_engine(config.engine, DEFAULTS.precision if config.precision == "auto" else config.precision)
    window.transport.loop_box.setChecked(as_bool(s.value("loop", False)))
    # Real time, every frame shown, at each start: "Hold frames" and Real-time off (for judging the model's
    # own frames) restored from an earlier session showed the video at the inference rate (issue 32's bug)
    for key in SESSION_ONLY:
        s.remove(key)
    window.transport.realtime_box.setChecked(True)
    window.transport.hold_box.setChecked(False)
    window.pipeline.set_hold(window.transport.hold_box.isChecked())
    window.loop_action.setChecked(window.transport.loop_box.isChecked())
    window.realtime_action.setChecked(window.transport.realtime_box.isChecked())
    window.pipeline.set_loop(window.transport.loop_box.isChecked())
    window.pipeline.set_realtime(window.transport.realtime_box.isChecked())
    window.pipeline.set_options(c.draw_options())


def save_settings(window: QMainWindow) -> None:
    """What `restore_settings` reads back next time: the model in use, never one that failed to load."""
    s, c = window.settings, window.controls
    s.setValue("threshold", c.threshold)
    for key, box in c.toggles.items():
        if key != "smooth":
            s.setValue(f"toggles/{key}", box.isChecked())
    for task, on in c.smooth_by_task.items():
        s.setValue(f"toggles/smooth/{task}", on)
    c.draw_options()                      # checks the class filter
    if c.class_filter_error.isHidden():   # a filter that does not parse is not brought back next time
        s.setValue("classes", c.class_filter.text())
    size = c.input_size.currentData()
    s.setValue("input_size", "keep" if size == "keep" else (f"{size[0]}x{size[1]}" if size else ""))
    request = window.pipeline.model_request          # the model in use; never one that failed to load
    s.setValue("weights", (request.weights if request else (None if window._load_failed else c.weights)) or "")
    if request is not None:
        s.setValue("engine", engine_key(request.device, request.engine, request.precision))
    elif not window._load_failed:
        s.setValue("engine", c.engine_choice())
    s.setValue("loop", window.transport.loop_box.isChecked())
    s.setValue("geometry", window.saveGeometry())
    s.setValue("window_state", window.saveState())
    unpin_command_line(window)
    s.sync()


# settings keys a command-line flag can set for one run
PINNABLE = ("source", "weights", "threshold", "input_size", "engine", "loop", "toggles/track")
# display modes for one session only (their flags, --fast and --hold-frames, too); earlier versions saved them
SESSION_ONLY = ("realtime", "hold_frames")


def window_values(window: QMainWindow) -> dict:
    """What the window would save now for each PINNABLE key."""
    c, t = window.controls, window.transport
    size = c.input_size.currentData()
    return {"source": window.pipeline.source_spec, "weights": c.weights or "", "threshold": c.threshold,
            "input_size": "keep" if size == "keep" else (f"{size[0]}x{size[1]}" if size else ""),
            "engine": c.engine_choice(), "loop": t.loop_box.isChecked(),
            "toggles/track": c.toggles["track"].isChecked()}


def pin_command_line(window: QMainWindow, stored: dict, given: set[str], source=None) -> dict:
    """{key: (the value stored before this run, the value the command line set)} for the flags given.

    Flags apply to their run only: `unpin_command_line` puts the stored values back unless the setting
    was changed in the window since. `stored` is `stored_values(settings)` from before anything was written.
    """
    now = window_values(window)
    now["source"] = None if source is None else str(source)
    return {key: (stored[key], now[key]) for key in given if key in PINNABLE}


def stored_values(settings: QSettings) -> dict:
    return {key: settings.value(key) if settings.contains(key) else None for key in PINNABLE}


def unpin_command_line(window: QMainWindow) -> None:
    s, now = window.settings, window_values(window)
    for key, (before, from_flag) in getattr(window, "command_line_pins", {}).items():
        if now[key] != from_flag:
            continue   # changed in the window: that choice stays
        if before is None:
            s.remove(key)
        else:
            s.setValue(key, before)


def as_bool(value) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)

"""The menu bar and keyboard shortcuts. Every action is also added to the window itself, so its shortcut
works with the menu bar hidden (full screen). `build_menus` sets the checkable actions as attributes."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMainWindow, QMessageBox

from app.gui.theme import APP_NAME


def add_action(window: QMainWindow, menu, text: str, slot, shortcut=None, checkable: bool = False,
               tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    menu.addAction(action)
    window.addAction(action)   # shortcuts work with the menu bar hidden (full screen)
    return action


def build_menus(window: QMainWindow) -> None:
    bar = window.menuBar()
    f = bar.addMenu("&File")
    add_action(window, f, "Open video or image…", window._open_file_dialog, QKeySequence.StandardKey.Open)
    add_action(window, f, "Open image folder…", window._open_folder_dialog)
    add_action(window, f, "Open stream URL…", window._open_url_dialog, "Ctrl+U")
    add_action(window, f, "Open camera…", window._open_camera_dialog)
    f.addSeparator()
    add_action(window, f, "Open checkpoint…", window.controls._browse_weights, "Ctrl+M")
    add_action(window, f, "Model zoo…", window.show_zoo)
    f.addSeparator()
    window.snapshot_action = add_action(window, f, "Snapshot to PNG", window.snapshot, Qt.Key.Key_S)
    window.record_action = add_action(window, f, "Record to MP4", window.toggle_recording, Qt.Key.Key_R,
                                      checkable=True)
    f.addSeparator()
    add_action(window, f, "Quit", window.close, Qt.Key.Key_Q)
    p = bar.addMenu("&Playback")
    window.pause_action = add_action(window, p, "Pause", window.toggle_pause, Qt.Key.Key_Space, checkable=True)
    add_action(window, p, "Next frame", window.step, Qt.Key.Key_Right)
    window.loop_action = add_action(window, p, "Loop", window.transport.loop_box.setChecked, checkable=True)
    window.realtime_action = add_action(window, p, "Real-time (file frame rate)",
                                        window.transport.realtime_box.setChecked, checkable=True)
    v = bar.addMenu("&View")
    window.fullscreen_action = add_action(window, v, "Full screen", window.toggle_fullscreen, Qt.Key.Key_F,
                                          checkable=True)
    v.addAction(window.controls_dock.toggleViewAction())
    v.addAction(window.latency_dock.toggleViewAction())
    h = bar.addMenu("&Help")
    add_action(window, h, "Keyboard shortcuts", lambda: show_shortcuts(window))
    add_action(window, h, "About", lambda: QMessageBox.about(
        window, APP_NAME, f"<b>{APP_NAME}</b><p>CenterNet (Objects as Points) on live video.</p>"))
    window.exit_fullscreen = QAction(window)
    window.exit_fullscreen.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    window.exit_fullscreen.triggered.connect(window.escape)   # full screen, else an enlarged tile
    window.addAction(window.exit_fullscreen)


def show_shortcuts(window: QMainWindow) -> None:
    QMessageBox.information(window, "Keyboard shortcuts",
                            "Space  pause / play\n→  next frame\nS  snapshot (PNG)\nR  record (MP4)\n"
                            "F  full screen (Esc leaves)\nClick a tile  select its stream\n"
                            "Double-click a tile  enlarge it (again, or Esc: the grid)\n"
                            "Q  quit\nCtrl+O  open a video\nCtrl+U  open a stream\n"
                            "Ctrl+M  open a checkpoint")

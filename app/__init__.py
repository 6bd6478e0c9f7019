"""CenterNet Live desktop app (PyQt6): the only Qt code in the project.

The pipeline itself is the library's (`centernet.live`: capture and model threads, no Qt); the window adapts
it to Qt signals (`gui.live_adapter.LivePipeline`: a presenter thread draws each result, the GUI thread
(`gui.main_window.MainWindow`) only paints). `gui --headless` uses the library directly, with no Qt.
"""
import os

# Every front end (main.py, the `centernet` script) imports this package before torch. torch's OpenMP
# threads spin-wait between operations by default: beside one other busy process on a 2-core machine
# they fight it for the cores and a forward ran 7x slower (issue 20: 6.4 s vs 0.93 s, mobilenetv3 at
# 384). Passive threads sleep instead; the setting only counts if made before OpenMP starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""CenterNet Live desktop app (PyQt6): the only Qt code in the project.

Three actors (see STYLE.md, "The app"): `capture.CaptureThread` reads frames and nothing else;
`inference_worker.InferenceWorker` keeps a one-slot "latest frame wins" mailbox and runs the Detector
and the shared renderer; the GUI thread (`main_window.MainWindow`) only paints. `pipeline.Pipeline`
wires the two threads and serves both the window and `main.py gui --headless`.
"""
import os

# Every front end (main.py, the `centernet` script) imports this package before torch. torch's OpenMP
# threads spin-wait between operations by default: beside one other busy process on a 2-core machine
# they fight it for the cores and a forward ran 7x slower (issue 20: 6.4 s vs 0.93 s, mobilenetv3 at
# 384). Passive threads sleep instead; the setting only counts if made before OpenMP starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""CenterNet Live desktop app (PyQt6): the only Qt code in the project.

Three actors (see STYLE.md, "The app"): `capture.CaptureThread` reads frames and nothing else;
`inference_worker.InferenceWorker` keeps a one-slot "latest frame wins" mailbox and runs the Detector
and the shared renderer; the GUI thread (`main_window.MainWindow`) only paints. `pipeline.Pipeline`
wires the two threads and serves both the window and `main.py gui --headless`.
"""

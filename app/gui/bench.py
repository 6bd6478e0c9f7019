"""Benchmark of the app itself (not of a model): `python -m app.cli.gui_bench`.

Runs the real window (offscreen unless a display is set) on a synthetic 1080p clip at 30 fps (or
--source) with either a stand-in model of fixed latency (replaying fixed detections, so the numbers
are the app's overhead) or a real checkpoint, and prints display FPS, inference FPS, end-to-end
latency (frame captured -> painted) against the model's latency, render and paint cost per frame,
dropped frames and RSS at start and end.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from app.gui.main_window import MainWindow, WindowOptions
from app.gui.theme import apply_theme
from app.gui.stats import process_rss_mb
from centernet.classes import COCO_CLASSES
from centernet.detections import Detections
from centernet.geometry.transforms import PreprocessSpec
from centernet.inference.config import DetectorConfig


def synthetic_clip(path: Path, seconds: float = 10.0, fps: float = 30.0, size=(1920, 1080)) -> Path:
    """A 1080p clip with moving shapes (the source for the overlay cost per 1080p frame)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    base = np.zeros((h, w, 3), np.uint8)
    base[:] = np.linspace(30, 90, w, dtype=np.uint8)[None, :, None]
    for i in range(int(seconds * fps)):
        frame = base.copy()
        for k in range(6):
            x = int((i * (6 + k) + k * 300) % (w - 200))
            cv2.rectangle(frame, (x, 150 + k * 140), (x + 180, 260 + k * 140), (60 + 30 * k, 160, 220 - 25 * k), -1)
        writer.write(frame)
    writer.release()
    return path


class FixedLatencyModel:
    """A stand-in Detector: sleeps `ms` and returns `n` fixed boxes scaled to the frame."""

    def __init__(self, ms: float, n: int = 20, class_names=None):

        self.ms = ms
        self.class_names = class_names or COCO_CLASSES
        self.task = "ctdet"
        self.spec = PreprocessSpec(input_size=(512, 512))
        self.device = torch.device("cpu")
        rng = np.random.default_rng(0)
        xy = rng.uniform(0.05, 0.75, (n, 2))
        wh = rng.uniform(0.05, 0.2, (n, 2))
        self.unit_boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        self.scores = torch.linspace(0.95, 0.35, n)
        self.labels = torch.as_tensor(rng.integers(0, 80, n))
        self.Detections = Detections

    def __call__(self, image):
        start = time.perf_counter()
        h, w = image.shape[:2]
        boxes = torch.from_numpy(self.unit_boxes * np.array([w, h, w, h], np.float32))
        time.sleep(max(0.0, self.ms / 1000.0 - (time.perf_counter() - start)))
        dets = self.Detections(boxes, self.scores.clone(), self.labels.clone())
        dets.timings = {"pre": 0.0, "net": (time.perf_counter() - start) * 1000.0, "decode": 0.0, "post": 0.0}
        return dets


def run(args) -> int:
    """Play the clip in a real window and print the numbers (`args`: app/cli/gui_bench.py's options)."""
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication


    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="centernet_bench_"))
    source = args.source or str(synthetic_clip(tmp / "clip_1080p30.mp4"))
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    config = DetectorConfig(weights=args.weights, input_size=args.input_size, device=args.device)
    window = MainWindow(config, WindowOptions(load_model=bool(args.weights), open_last_source=False, loop=True,
                                              realtime=True, output_dir=tmp), settings=settings)
    window.resize(1600, 1000)
    window.show()
    if not args.weights:
        window.pipeline.set_detector(FixedLatencyModel(args.model_ms))
    samples = {"render": [], "paint": [], "net": [], "e2e": [], "model": [], "wait": [], "deliver": [], "age": []}
    state = {"measuring": False}

    def on_painted(seq, painted_at):
        r = window.last_result
        if state["measuring"] and r is not None and r.seq == seq and r.overlay_age_ms is not None:
            samples["age"].append(r.overlay_age_ms)   # every frame shown: how old its detections are
        if state["measuring"] and r is not None and r.seq == seq and r.inferred:
            samples["render"].append(r.timings["render"])
            samples["paint"].append(window.view.paint_ms)
            samples["model"].append(sum(r.timings.get(k, 0.0) for k in ("pre", "net", "decode", "post")))
            samples["e2e"].append((painted_at - r.frame.captured_at) * 1000.0)
            samples["wait"].append((r.started_at - r.frame.captured_at) * 1000.0)
            samples["deliver"].append((painted_at - r.done_at) * 1000.0)
    window.view.frame_painted.connect(on_painted)

    def start_opening():
        if args.weights and window.detector is None:
            QTimer.singleShot(200, start_opening)
            return
        window.open_source(source)
        QTimer.singleShot(int(args.warmup * 1000), begin)

    def begin():
        state.update(measuring=True, rss0=process_rss_mb(), t0=time.perf_counter(), shown0=window.stats.displayed,
                     inferred0=window.stats.inferred, dropped0=window.pipeline.dropped)
        QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish():
        dt = time.perf_counter() - state["t0"]
        med = lambda xs: round(statistics.median(xs), 2) if xs else None  # noqa: E731
        info = window.pipeline.source_info
        out = {"source": f"{info.size[0]}x{info.size[1]} @ {info.fps:g} fps" if info else source,
               "model": args.weights or f"stand-in, {args.model_ms:g} ms",
               "seconds": round(dt, 1),
               "display_fps": round((window.stats.displayed - state["shown0"]) / dt, 2),
               "inference_fps": round((window.stats.inferred - state["inferred0"]) / dt, 2),
               "dropped": window.pipeline.dropped - state["dropped0"],
               "overlay_age_ms_median": med(samples["age"]),
               "model_ms_median": med(samples["model"]), "end_to_end_ms_median": med(samples["e2e"]),
               "end_to_end_minus_model_ms": (round(med(samples["e2e"]) - med(samples["model"]), 2)
                                             if samples["e2e"] else None),
               "mailbox_wait_ms_median": med(samples["wait"]), "deliver_and_paint_ms_median": med(samples["deliver"]),
               "render_ms_median": med(samples["render"]), "paint_ms_median": med(samples["paint"]),
               "rss_mib_start": round(state["rss0"]), "rss_mib_end": round(process_rss_mb())}
        print(json.dumps(out, indent=1))
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        window.close()
        app.quit()

    QTimer.singleShot(0, start_opening)
    app.exec()
    return 0

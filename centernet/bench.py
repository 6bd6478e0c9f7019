"""`bench`: per-stage latency of the plain torch path and the engine, side by side in one process.

Speed is reported as measured numbers and as a ratio against the plain fp32 eager path measured in
the same run, on the same frames. `--gpu-check` runs every CUDA check and benchmark in one go.
"""
from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .checkpoint import CheckpointInfo, info_for_original, load_checkpoint
from .decode import ctdet_decode_batch
from .detections import Detections
from .engine import Engine
from .model import build_model
from .timing import StageTimer
from .transforms import preprocess
from .zoo import ASSETS

FRAME_HW = (720, 1280)


def bench_frames(n: int = 8, hw: tuple[int, int] = FRAME_HW) -> list[np.ndarray]:
    """Real frames from the demo clip resized to 1280x720 uint8 (falls back to noise without it)."""
    clip = ASSETS / "demo" / "bikes.mp4"
    frames = []
    cap = cv2.VideoCapture(str(clip))
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(f, (hw[1], hw[0])))
    cap.release()
    rng = np.random.default_rng(0)
    while len(frames) < n:
        frames.append(rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
    return frames


@dataclass
class StageStats:
    """Per-stage latency over the timed frames: median, p90, p99 in ms."""

    samples: dict = field(default_factory=dict)

    def add(self, times: dict) -> None:
        for k, v in times.items():
            self.samples.setdefault(k, []).append(v)
        self.samples.setdefault("total", []).append(sum(times.values()))

    def summary(self) -> dict:
        out = {}
        for k, v in self.samples.items():
            a = np.asarray(v)
            out[k] = {"median": round(float(np.median(a)), 3), "p90": round(float(np.percentile(a, 90)), 3),
                      "p99": round(float(np.percentile(a, 99)), 3)}
        return out

    @property
    def fps(self) -> float:
        return 1000.0 / statistics.median(self.samples["total"]) if self.samples.get("total") else 0.0


def model_for(weights: str | None, arch: str | None, task: str) -> tuple[torch.nn.Module, CheckpointInfo]:
    """A checkpoint's model, or an arch with its default initialisation (speed does not depend on weights)."""
    if weights:
        return load_checkpoint(weights)
    model = build_model(arch, task)
    info = info_for_original(model.state_dict(), arch, task)
    return model, info


def run_plain(model, info, frames, device, timer) -> list[Detections]:
    """The baseline: plain fp32 eager model, OpenCV pre-processing, straightforward torch decode."""
    out = []
    for frame in frames:
        timer.reset()
        with timer("pre"):
            x, _ = preprocess(frame, info.preprocess)
        with timer("h2d"):
            x = x.to(device)
        with timer("net"):
            heads = model(x)
        with timer("decode"):
            dets = ctdet_decode_batch(heads["hm"], heads["wh"], heads.get("reg"),
                                      box_mode=info.decode.get("box_mode", "size"))[0]
        with timer("d2h"):
            dets = dets.to("cpu")
        out.append((dets, dict(timer.times)))
    return out


def run_engine(engine: Engine, info, frames, timer) -> list:
    out = []
    for frame in frames:
        timer.reset()
        if engine.mode == "graph":
            with timer("graph"):
                scores, classes, boxes, _ = engine.run_graph([frame])[0]
            keep = scores > 0
            dets = Detections(boxes[keep], scores[keep], classes[keep])
        else:
            with timer("pre"):
                x, _ = preprocess(frame, engine.spec)
            with timer("net"):
                heads = engine.forward(x)
            with timer("decode"):
                dets = ctdet_decode_batch(heads["hm"], heads["wh"], heads.get("reg"), k=engine.k,
                                          box_mode=engine.box_mode)[0]
            with timer("d2h"):
                dets = dets.to("cpu")
        out.append((dets, dict(timer.times)))
    return out


def agreement(a: list[Detections], b: list[Detections], threshold: float = 0.3) -> float:
    """Share of detections above threshold in `a` matched in `b`: same class, IoU >= 0.95, |dscore| <= 0.02."""
    from torchvision.ops import box_iou
    total = matched = 0
    for da, db in zip(a, b):
        da, db = da.above(threshold), db.above(threshold - 0.02)
        total += len(da)
        if not len(da) or not len(db):
            continue
        iou = box_iou(da.boxes.float(), db.boxes.float())
        same = (da.labels[:, None] == db.labels[None, :]) & ((da.scores[:, None] - db.scores[None, :]).abs() <= 0.02)
        matched += int(((iou >= 0.95) & same).any(1).sum())
    return matched / total if total else 1.0


def bench(weights=None, arch="res_18", task="ctdet", res=512, precision="fp32", engine_mode="auto", frames=50,
          warmup=5, device="auto", compare=True) -> dict:
    from .detector import resolve_device
    dev = resolve_device(device)
    model, info = model_for(weights, arch, task)
    if res:
        info.preprocess = info.preprocess.with_input_size(res, res)
    model = model.to(dev).eval()
    clip = bench_frames(min(frames + warmup, 16))
    seq = [clip[i % len(clip)] for i in range(frames + warmup)]
    timer = StageTimer(dev)
    record = {"arch": info.arch, "task": info.task, "input": list(info.preprocess.input_size), "frame": list(FRAME_HW),
              "device": device_name(dev), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "frames": frames, "date": time.strftime("%Y-%m-%d")}
    eng = Engine(model, info.preprocess, dev, precision, engine_mode, box_mode=info.decode.get("box_mode", "size"),
                 task=info.task)
    record["engine"] = {"mode": eng.mode, "precision": eng.precision, "kernels": eng.use_kernels}
    with torch.inference_mode():
        fast = run_engine(eng, info, seq, timer)[warmup:]
        st = StageStats()
        for _, t in fast:
            st.add(t)
        record["engine"].update(stages=st.summary(), fps=round(st.fps, 2))
        if compare:
            plain = run_plain(model, info, seq, dev, timer)[warmup:]
            sp = StageStats()
            for _, t in plain:
                sp.add(t)
            record["plain_fp32_eager"] = {"stages": sp.summary(), "fps": round(sp.fps, 2)}
            record["speedup"] = round(statistics.median(sp.samples["total"]) / statistics.median(st.samples["total"]), 3)
            record["agreement"] = round(agreement([d for d, _ in plain], [d for d, _ in fast]), 4)
    if dev.type == "cuda":
        record["gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    record["engine_stats"] = vars(eng.stats).copy()
    return record


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def format_record(r: dict) -> str:
    lines = [f"{r['task']} {r['arch']} input {r['input'][0]}x{r['input'][1]}, frame {r['frame'][1]}x{r['frame'][0]}, "
             f"{r['device']}, torch {r['torch']}"]

    def row(name, part):
        st = part["stages"]
        cells = "  ".join(f"{k} {v['median']:.2f}/{v['p90']:.2f}/{v['p99']:.2f}" for k, v in st.items())
        return f"  {name:<18} {part.get('fps', 0):8.1f} FPS   (median/p90/p99 ms) {cells}"

    lines.append(row(f"engine {r['engine']['mode']} {r['engine']['precision']}", r["engine"]))
    if "plain_fp32_eager" in r:
        lines.append(row("plain fp32 eager", r["plain_fp32_eager"]))
        lines.append(f"  speed-up {r['speedup']:.2f}x, detections above 0.3 matched: {100 * r['agreement']:.1f}%")
    return "\n".join(lines)


def write_json(record, path: Path) -> None:
    from .writers.atomic import write_json_atomic
    write_json_atomic(Path(path), record, indent=1)


def run_bench_command(args) -> int:
    if args.gpu_check:
        from .gpu_check import run_gpu_check
        return run_gpu_check(args.json or Path("gpu_check.json"))
    record = bench(args.weights, args.arch, args.task, args.res, args.precision, args.engine, args.frames,
                   args.warmup, args.device, args.compare)
    print(format_record(record))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    return 0

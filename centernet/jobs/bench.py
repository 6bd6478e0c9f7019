"""`bench`: per-stage latency of the plain torch path and the engine, side by side in one process.

Speed is reported as measured numbers and as a ratio against the plain fp32 eager path measured in
the same run, on the same frames. `--gpu-check` runs every CUDA check and benchmark in one go.
"""
from __future__ import annotations

import logging
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from centernet.detections import Detections
from centernet.errors import ConfigError
from centernet.inference.decode import gather_at
from centernet.inference.detector import Detector, resolve_device
from centernet.inference.backends.torch_engine import cpu_has_native_bf16, prepare_model
from centernet.inference.backends.eager import PLAIN
from centernet.inference.backends.onnxruntime import NAME as ONNXRUNTIME
from centernet.inference.backends.registry import BACKENDS
from centernet.io.writers.atomic import write_json_atomic
from centernet.tracking.bytetrack import iou_matrix
from centernet.jobs.bench_engines import load_slowdown
from centernet.jobs.bench_timing import FRAME_HW, Variant, bench_frames, check_counts, model_for, time_variants

log = logging.getLogger(__name__)


def straightforward_ctdet_decode(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None, k: int,
                                 box_mode: str) -> list[Detections]:
    """The baseline's decode, written as the original does it: sigmoid over the whole map, 3x3
    max-pool on the NCHW map, top-K per class, then top-K of those."""
    heat = torch.sigmoid(hm)
    heat = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
    b, c, h, w = heat.shape
    k = min(k, h * w)
    class_scores, class_pixels = torch.topk(heat.view(b, c, -1), k)
    scores, index = torch.topk(class_scores.view(b, -1), k)
    classes = torch.div(index, k, rounding_mode="floor")
    pixel = class_pixels.view(b, -1).gather(1, index)
    ys, xs = torch.div(pixel, w, rounding_mode="floor").float(), (pixel % w).float()
    if reg is not None:
        off = gather_at(reg, pixel)
        xs, ys = xs + off[..., 0], ys + off[..., 1]
    size = gather_at(wh, pixel)
    if box_mode == "ltrb":
        boxes = torch.stack([xs - size[..., 0], ys - size[..., 1], xs + size[..., 2], ys + size[..., 3]], -1)
    else:
        boxes = torch.stack([xs - size[..., 0] / 2, ys - size[..., 1] / 2, xs + size[..., 0] / 2,
                             ys + size[..., 1] / 2], -1)
    return [Detections(boxes[i][scores[i] > 0], scores[i][scores[i] > 0], classes[i][scores[i] > 0])
            for i in range(b)]


class BaselineDetector(Detector):
    """The plain path every speed-up is measured against: the model exactly as loaded (fp32, NCHW,
    torchvision's deformable conv), OpenCV pre-processing, the straightforward decode for ctdet."""

    def __init__(self, model, info, device, **kwargs):
        super().__init__(model, info, device, engine=PLAIN, **kwargs)

    def decode(self, outputs: dict, flip: bool = False) -> list[Detections]:
        if self.task != "ctdet" or flip or self.info.decode.get("rule", "centernet") != "centernet":
            return super().decode(outputs, flip)
        return straightforward_ctdet_decode(outputs["hm"], outputs["wh"], outputs.get("reg"), self.k,
                                            self.info.decode.get("box_mode", "size"))


def cpu_ablation(model, info, device, input_size) -> list[Variant]:
    """What each CPU optimisation adds, one step at a time (each its own prepared copy of the model)."""
    steps = [("+ channels_last, BN folded", dict(precision="fp32", fast_deform=False)),
             ("+ gathered deform conv", dict(precision="fp32", fast_deform=True))]
    if cpu_has_native_bf16():
        steps.append(("+ bf16", dict(precision="bf16", fast_deform=True)))
    variants = []
    for name, kw in steps:
        prepared = prepare_model(model, device, **kw)
        variants.append(Variant(name, Detector(prepared, info, device, engine=PLAIN, input_size=input_size)))
    runtime = onnx_runtime_variant(model, info, input_size)
    return variants + ([runtime] if runtime else [])


def onnx_runtime_variant(model, info, input_size) -> Variant | None:
    """The same model through the onnxruntime engine (None when the onnx extras are absent)."""
    if not BACKENDS[ONNXRUNTIME].installed():
        log.info("onnx extras not installed: no ONNX Runtime variant")
        return None
    return Variant(f"{ONNXRUNTIME} fp32", Detector(model, info, "cpu", engine=ONNXRUNTIME, input_size=input_size))


def agreement(a: list[Detections], b: list[Detections], threshold: float = 0.3) -> float:
    """Share of detections above threshold in `a` matched in `b`: same class, IoU >= 0.95, |dscore| <= 0.02."""
    total = matched = 0
    for da, db in zip(a, b):
        da, db = da.above(threshold), db.above(threshold - 0.02)
        total += len(da)
        if not len(da) or not len(db):
            continue
        iou = torch.from_numpy(iou_matrix(da.boxes.float().numpy(), db.boxes.float().numpy()))
        same = (da.labels[:, None] == db.labels[None, :]) & ((da.scores[:, None] - db.scores[None, :]).abs() <= 0.02)
        matched += int(((iou >= 0.95) & same).any(1).sum())
    return matched / total if total else 1.0


@dataclass(frozen=True)
class BenchOptions:
    """What `bench` times and how; the defaults are the command line's."""

    weights: str | None = None   # checkpoint; None: `arch` with random weights (speed does not depend on them)
    arch: str = "res_18"
    task: str = "ctdet"
    res: int | None = 512        # square network input size; None: the model's own
    precision: str = "auto"
    engine: str = "auto"
    frames: int = 50             # timed frames (batches with batch > 1) after the warm-up
    warmup: int = 5
    device: str = "auto"
    compare: bool = True         # also time the plain fp32 eager baseline on the same frames
    batch: int = 1               # frames per forward pass
    ablation: bool = False       # on CPU, also time each optimisation step
    load: int = 0                # also time the engine beside this many busy processes


def bench(options: BenchOptions = BenchOptions()) -> dict:
    """Per-stage latency of the engine (and, with `compare`, of the plain baseline) on the same frames;
    with `load` > 0 the engine runs again beside that many busy processes (bench_engines.load_slowdown)."""
    o = options
    weights, frames, warmup, batch = o.weights, o.frames, o.warmup, o.batch
    check_counts(frames=frames, batch=batch, warmup=warmup)
    dev = resolve_device(o.device)
    model, info = model_for(weights, o.arch, o.task)
    model = model.to(dev).eval()
    size = (o.res, o.res) if o.res else None
    n_frames = (frames + warmup) * batch
    clip = bench_frames(min(n_frames, 16))
    seq = [clip[i % len(clip)] for i in range(n_frames)]
    try:
        engine_det = Detector(model, info, dev, input_size=size, engine=o.engine, precision=o.precision)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    eng = engine_det.engine
    mode = engine_det.engine_name
    prec = engine_det.backend.precision
    variants = [Variant(f"engine {mode} {prec}", engine_det)]
    if o.compare:
        variants.insert(0, Variant("plain fp32 eager", BaselineDetector(model, info, dev, input_size=size)))
    if o.ablation and dev.type == "cpu":
        variants[1:1] = cpu_ablation(model, info, dev, size)
    record = {"arch": info.arch, "task": info.task, "input": list(engine_det.spec.input_size),
              "frame": list(FRAME_HW), "batch": batch, "device": device_name(dev), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "frames": frames, "date": time.strftime("%Y-%m-%d"),
              "weights": str(weights) if weights else "default initialisation"}
    with torch.inference_mode():
        time_variants(variants, seq, batch, warmup)
    engine_v = variants[-1]
    record["engine"] = {"mode": mode, "precision": prec, "kernels": bool(eng and eng.use_kernels),
                        "reason": engine_det.engine_reason,
                        "stages": engine_v.stats.summary(), "fps": round(engine_v.stats.fps, 2)}
    if o.load:
        record["load"] = load_slowdown(engine_det, seq[:frames + warmup], o.load, warmup)
    if o.compare:
        base = variants[0]
        base_ms = statistics.median(base.stats.samples["total"])
        record["plain_fp32_eager"] = {"stages": base.stats.summary(), "fps": round(base.stats.fps, 2)}
        record["variants"] = [{"name": v.name, "stages": v.stats.summary(), "fps": round(v.stats.fps, 2),
                               "speedup": round(base_ms / statistics.median(v.stats.samples["total"]), 3)}
                              for v in variants]
        record["speedup"] = record["variants"][-1]["speedup"]
        record["agreement"] = round(agreement(base.results, engine_v.results), 4)
    if dev.type == "cuda":
        record["gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    record["engine_stats"] = vars(eng.stats).copy() if eng else {}
    return record


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def format_record(r: dict) -> str:
    lines = [f"{r['task']} {r['arch']} input {r['input'][0]}x{r['input'][1]}, frame {r['frame'][1]}x{r['frame'][0]}, "
             f"batch {r.get('batch', 1)}, {r['device']}, torch {r['torch']}, {r.get('weights', '')}"]

    def row(name, part, speedup=None):
        st = part["stages"]
        cells = "  ".join(f"{k} {v['median']:.2f}/{v['p90']:.2f}/{v['p99']:.2f}" for k, v in st.items())
        ratio = f"{speedup:5.2f}x" if speedup is not None else "      "
        return f"  {name:<30} {part.get('fps', 0):8.1f} FPS {ratio}  (ms median/p90/p99) {cells}"

    if "variants" in r:
        for v in r["variants"]:
            lines.append(row(v["name"], v, v["speedup"]))
        lines.append(f"  engine vs plain: {r['speedup']:.2f}x, detections above 0.3 matched: "
                     f"{100 * r['agreement']:.1f}%"
                     + (" (random weights: near-tied scores, agreement not meaningful)"
                        if r.get("weights") == "default initialisation" and r["engine"]["precision"] != "fp32" else ""))
    else:
        lines.append(row(f"engine {r['engine']['mode']} {r['engine']['precision']}", r["engine"]))
    if r["engine"].get("reason"):
        lines.append(f"  engine choice: {r['engine']['reason']}")
    if r.get("load"):
        ld = r["load"]
        lines.append(f"  under load: {ld['unloaded_ms']:.1f} ms/frame alone, {ld['loaded_ms']:.1f} ms beside "
                     f"{ld['processes']} busy process(es): {ld['slowdown']:.2f}x slower")
    return "\n".join(lines)


def write_json(record, path: Path) -> None:
    write_json_atomic(Path(path), record, indent=1)

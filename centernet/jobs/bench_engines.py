"""`bench --engines` and `bench --load N`: the CPU engines side by side, and how each holds up when
other processes take cores.

`engines_table` times every CPU engine (torch eager fp32 / bf16, ONNX Runtime, OpenVINO fp32 / bf16)
for several models and input sizes on the same demo frames, round-robin so that load changes hit
them alike. With `load` > 0 the same frames run again while `load` busy processes spin on the CPU,
and each row gets its slow-down ratio (loaded / unloaded median, same run): an engine whose threads
spin-wait for each other collapses here (issue 20: 10x), one that sleeps slows at most in
proportion to the cores taken.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import statistics
import time
from dataclasses import dataclass

import numpy as np

from centernet.inference.backends.base import Workload
from centernet.inference.backends.registry import BACKENDS
from centernet.inference.detector import Detector
from centernet.inference.backends.torch_engine import cpu_has_native_bf16
from centernet.inference.openvino_engine import has_deformable_conv
from centernet.jobs.bench_timing import StageStats, Variant, bench_frames, check_counts, model_for, time_variants
from centernet.models.checkpoint import load_checkpoint
from centernet.models.zoo import default_weights

log = logging.getLogger(__name__)
DEFAULT_MODELS = ("default:ctdet", "default:multi_pose", "res_18", "dla_34")
# every backend `auto` times on a CPU, at each CPU precision it runs (the registry's names)
ENGINES = tuple((k.name, p) for k in BACKENDS.values() if k.cpu_untimed_reason is not None
                for p in k.precisions if p in ("fp32", "bf16"))


@dataclass(frozen=True)
class EngineRow:
    model: str
    input: int
    engine: str
    precision: str            # what ran (OpenVINO keeps f32 on a CPU without native bfloat16)
    ms: float | None          # median ms per frame, pre + net + decode + post (None: not available)
    net_ms: float | None
    loaded_ms: float | None = None
    note: str = ""

    @property
    def slowdown(self) -> float | None:
        return self.loaded_ms / self.ms if self.ms and self.loaded_ms else None


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy_processes(n: int):
    """n processes that keep one core each busy while the block runs."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5 if n else 0)  # let them start spinning
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)


def load_model(spec: str):
    """'default:<task>' -> the shipped model; otherwise an arch with random weights (speed does not
    depend on them)."""
    if spec.startswith("default:"):
        return load_checkpoint(default_weights(spec.split(":", 1)[1]))
    return model_for(None, spec, "ctdet")


def engine_detectors(model, info, size: int, engines=ENGINES) -> tuple[list[Variant], dict[str, str]]:
    """One Detector per engine that can run this model here; the others with the reason they cannot."""
    variants, skipped, seen = [], {}, set()
    for engine, precision in engines:
        label = f"{engine} {precision}"
        kind = BACKENDS[engine]
        # torch emulates bf16 without native support (a runtime that picks its own device falls back itself)
        if precision == "bf16" and not kind.picks_own_device and not cpu_has_native_bf16():
            skipped[label] = "no native bf16 on this CPU"
            continue
        untimed = kind.cpu_untimed_reason(Workload("cpu", precision, deformable=has_deformable_conv(model)))
        if untimed:
            skipped[label] = untimed
            continue
        try:
            det = Detector(model, info, "cpu", engine=engine, precision=precision, input_size=(size, size))
        except Exception as e:  # noqa: BLE001 - the table reports what an engine cannot run
            skipped[label] = str(e).split(":")[0]
            continue
        ran = det.backend.precision
        if (engine, ran) in seen:
            skipped[label] = f"runs {ran} here (no native bf16)"
            continue
        seen.add((engine, ran))
        variants.append(Variant(f"{engine} {ran}", det))
    return variants, skipped


def median_ms(v: Variant, stage: str | None = None) -> float | None:
    samples = v.stats.samples.get(stage or "total")
    return round(statistics.median(samples), 2) if samples else None


def engines_table(models=DEFAULT_MODELS, sizes=(384, 512), frames: int = 20, warmup: int = 3, load: int = 0,
                  on_row=None) -> list[EngineRow]:
    """Every CPU engine for every model and size on the same demo frames; `on_row(row)` per row."""
    check_counts(frames=frames, warmup=warmup)
    clip = bench_frames(8)
    seq = [clip[i % len(clip)] for i in range(frames + warmup)]
    rows = []
    for spec in models:
        for size in sizes:
            model, info = load_model(spec)
            variants, skipped = engine_detectors(model, info, size)
            name = f"{info.arch} {info.task}" if spec.startswith("default:") else f"{info.arch} (random weights)"
            time_variants(variants, seq, 1, warmup)
            unloaded = {v.name: (median_ms(v), median_ms(v, "net")) for v in variants}
            loaded = {}
            if load:
                for v in variants:
                    v.stats = StageStats()
                with busy_processes(load):
                    time_variants(variants, seq, 1, warmup)
                loaded = {v.name: median_ms(v) for v in variants}
            for v in variants:
                engine, precision = v.name.split()
                row = EngineRow(name, size, engine, precision, *unloaded[v.name], loaded.get(v.name))
                rows.append(row)
                if on_row:
                    on_row(row)
            for label, why in skipped.items():
                engine, precision = label.split()
                row = EngineRow(name, size, engine, precision, None, None, None, why)
                rows.append(row)
                if on_row:
                    on_row(row)
    return rows


def format_engines_table(rows: list[EngineRow], load: int = 0) -> str:
    """A Markdown table: ms per frame (and net), fps, and with load the slow-down ratio."""
    head = "| model | input | engine | precision | ms/frame | net ms | fps |" + (f" with {load} busy | slow-down |"
                                                                               if load else "")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r.ms is None:
            cells = f"| {r.model} | {r.input} | {r.engine} | {r.precision} | n/a: {r.note} | | |"
            lines.append(cells + (" | |" if load else ""))
            continue
        cells = f"| {r.model} | {r.input} | {r.engine} | {r.precision} | {r.ms:.1f} | {r.net_ms:.1f} | {1000 / r.ms:.1f} |"
        if load:
            cells += f" {r.loaded_ms:.1f} | {r.slowdown:.2f}x |" if r.loaded_ms else " | |"
        lines.append(cells)
    return "\n".join(lines)


def load_slowdown(detector: Detector, frames: list[np.ndarray], load: int, warmup: int = 3) -> dict:
    """The engine's median ms per frame unloaded, then with `load` busy processes, in one run."""
    plain, busy = Variant("unloaded", detector), None
    time_variants([plain], frames, 1, warmup)
    busy = Variant("loaded", detector)
    with busy_processes(load):
        time_variants([busy], frames, 1, warmup)
    a, b = median_ms(plain), median_ms(busy)
    return {"processes": load, "unloaded_ms": a, "loaded_ms": b, "slowdown": round(b / a, 2)}

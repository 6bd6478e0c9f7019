"""`--engine auto` on a CPU: the fastest engine for this model, input size and machine, measured once.

No engine wins everywhere (issue 20: OpenVINO runs the MobileNetV3 ctdet model 2-3x faster than
torch, but dla_34's deformable convs run fastest in the eager engine's gathered formulation), so a
few forwards of each candidate decide. The choice is cached on disk under CENTERNET_HOME, keyed by
weights hash, input size, precision, CPU model and thread count; `reason` says what ran how fast.
CENTERNET_CPU_ENGINE=eager|onnxruntime|openvino skips the measurement.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from centernet.inference.backends.base import Workload
from centernet.inference.backends.registry import BACKENDS
from centernet.io.writers.atomic import write_json_atomic
from centernet.timing import median_ms

log = logging.getLogger(__name__)
OVERRIDE_ENV = "CENTERNET_CPU_ENGINE"
WARMUP, REPEATS = 1, 3


@dataclass(frozen=True)
class Candidate:
    engine: str     # a registered backend's name
    precision: str  # fp32 or bf16

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"


@dataclass(frozen=True)
class EngineChoice:
    engine: str
    precision: str
    reason: str                        # one line for the GUI, the headless readout and bench
    timings_ms: tuple = ()             # (label, median ms per forward) of every candidate measured
    note: str = ""                     # the reason in a few words: "fastest of 3, 24 ms/forward"


def cpu_candidates(precision: str, requested_precision: str, deformable: bool,
                   available: dict[str, bool]) -> list[Candidate]:
    """The registered backends `auto` times on a CPU for this model at `precision` (already resolved: fp32
    or bf16), in registry order.

    A backend competes at the resolved precision, or at its own first one when precision was left to
    "auto" (ONNX Runtime runs fp32 only); its capability rule and its `cpu_untimed_reason` may leave it
    out (OpenVINO cannot read deformable convs, ONNX Runtime runs torchvision's slow reference op)."""
    out = []
    for kind in BACKENDS.values():
        if kind.cpu_untimed_reason is None:
            continue
        p = precision if precision in kind.precisions else kind.precisions[0] if requested_precision == "auto" else None
        w = Workload("cpu", p or precision, deformable=deformable, installed=available)
        if p and kind.unsupported_reason(w) is None and kind.cpu_untimed_reason(w) is None:
            out.append(Candidate(kind.name, p))
    return out


def cpu_model_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), part of the cache key."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def choice_key(fingerprint: str, input_size: tuple[int, int], precision: str, cpu: str, threads: int) -> str:
    return f"{fingerprint[:16]}|{input_size[0]}x{input_size[1]}|{precision}|{cpu}|{threads}"


def pick(timings: dict[str, float], candidates: list[Candidate], note: str) -> EngineChoice:
    """The fastest candidate, with the reason in one line."""
    best = min(candidates, key=lambda c: timings[c.label])
    others = ", ".join(f"{c.label} {timings[c.label]:.0f}" for c in candidates if c != best)
    reason = (f"{best.label}: {timings[best.label]:.0f} ms/forward, fastest of "
              f"{len(candidates)} ({others or 'no other candidate'} ms); {note}")
    return EngineChoice(best.engine, best.precision, reason,
                        tuple((c.label, round(timings[c.label], 2)) for c in candidates),
                        f"fastest of {len(candidates)}, {timings[best.label]:.0f} ms/forward")


def choose_cpu_engine(candidates: list[Candidate], key: str, build: Callable[[Candidate], Callable],
                      input_size: tuple[int, int], cache_file: Path,
                      measure: Callable[[str, Callable[[], object]], float] | None = None) -> EngineChoice:
    """The fastest of `candidates` for this key: from the cache file, or measured and cached.

    build(candidate) -> a callable on an NCHW batch (may raise: that candidate is skipped);
    measure(label, run) -> ms (default: median of a few timed runs after a warm-up)."""
    override = os.environ.get(OVERRIDE_ENV, "").strip().lower()
    if override:
        chosen = [c for c in candidates if c.engine == override]
        if chosen:
            return EngineChoice(chosen[0].engine, chosen[0].precision, f"{chosen[0].label}: set by {OVERRIDE_ENV}",
                                note=f"set by {OVERRIDE_ENV}")
        log.warning("%s=%s cannot run this model: measuring instead", OVERRIDE_ENV, override)
    if len(candidates) == 1:
        only = candidates[0]
        return EngineChoice(only.engine, only.precision, f"{only.label}: the only CPU engine for this model",
                            note="the only CPU engine for this model")
    cached = read_cache(cache_file).get(key)
    if cached and {c.label for c in candidates} <= set(cached["timings_ms"]):
        return pick(dict(cached["timings_ms"]), candidates, f"measured {cached['date']}, cached")
    measure = measure or (lambda label, run: median_ms(run, n=REPEATS, warmup=WARMUP, device="cpu"))
    x = torch.rand(1, 3, *input_size) * 4 - 2  # speed does not depend on the values
    timings, usable = {}, []
    for c in candidates:
        try:
            runner = build(c)
        except Exception as e:  # noqa: BLE001 - a candidate that cannot be built here is not a choice
            log.warning("engine %s unavailable for this model: %s", c.label, e)
            continue
        with torch.inference_mode():
            timings[c.label] = measure(c.label, lambda: runner(x))
        usable.append(c)
        log.info("engine %s: %.1f ms per forward", c.label, timings[c.label])
    choice = pick(timings, usable, "measured now")
    write_cache(cache_file, key, {"engine": choice.engine, "precision": choice.precision,
                                  "timings_ms": timings, "date": time.strftime("%Y-%m-%d")})
    return choice


def read_cache(cache_file: Path) -> dict:
    try:
        return json.loads(Path(cache_file).read_text())
    except (OSError, ValueError):
        return {}


def write_cache(cache_file: Path, key: str, entry: dict) -> None:
    """Add one entry (read-modify-write; a lost race only costs another measurement)."""
    data = read_cache(cache_file)
    data[key] = entry
    try:
        write_json_atomic(Path(cache_file), data, indent=1)
    except OSError as e:
        log.warning("cannot cache the engine choice in %s: %s", cache_file, e)

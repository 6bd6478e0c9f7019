"""`--engine auto`: which registered backend runs a model. On a CPU at one fixed input size the fastest of the
backends that time there, measured once and cached (cpu_choice.py); elsewhere the CUDA graph where it can
run the workload, eager where it cannot. The chosen backend carries the reason."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from centernet.errors import ConfigError
from centernet.inference.backends import cpu_choice as ec
from centernet.inference.backends.base import Backend, Target, Workload
from centernet.inference.backends.registry import BACKENDS
from centernet.inference.backends.torch_engine import EAGER, GRAPH, resolve_precision, tune_cpu_threads


def measured_choice_applies(w: Workload) -> bool:
    """auto measures on a CPU at one fixed input size (keep_res and several scales need a per-image size,
    which only the eager backend serves)."""
    return w.device == "cpu" and w.fixed_size and not w.multi_scale


def choose_backend(target: Target, workload: Callable[[str], Workload], precision: str, weights_sha256: str,
                   cache_file: Path) -> Backend:
    """The backend `auto` picks for this target; workload(precision) -> the Workload at that precision."""
    w = workload(precision)
    if measured_choice_applies(w):
        return _fastest_on_cpu(target, w, precision, weights_sha256, cache_file)
    not_graph = BACKENDS[GRAPH].unsupported_reason(w)
    name = EAGER if not_graph else GRAPH
    backend = BACKENDS[name].prepare(target, precision)
    backend.note = "the graph cannot run it" if not_graph else "the graph can run it"
    backend.reason = f"{name} {backend.precision}: {not_graph or 'the whole frame path captured as a CUDA graph'}"
    return backend


def _fastest_on_cpu(target: Target, w: Workload, precision: str, weights_sha256: str, cache_file: Path) -> Backend:
    """The fastest CPU backend for this model, input size, precision and machine (cached)."""
    try:
        resolved = resolve_precision(precision, target.device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    threads = tune_cpu_threads()
    size = tuple(target.spec.input_size)
    candidates = ec.cpu_candidates(resolved, precision, w.deformable,
                                   {name: kind.installed() for name, kind in BACKENDS.items()})
    built: dict[str, Backend] = {}   # a backend built to be timed is the one that then runs

    def build(c: ec.Candidate):
        built[c.label] = BACKENDS[c.engine].prepare(target, c.precision)
        return built[c.label].run

    key = ec.choice_key(weights_sha256, size, resolved, ec.cpu_model_name(), threads)
    choice = ec.choose_cpu_engine(candidates, key, build, size, cache_file)
    label = ec.Candidate(choice.engine, choice.precision).label
    backend = built.get(label) or BACKENDS[choice.engine].prepare(target, choice.precision)
    backend.reason, backend.note = choice.reason, choice.note
    return backend

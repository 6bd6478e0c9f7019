"""The engine registry: every backend by its name, the one list the command line (`--engine` choices and
help), the GUI's engine menu, `explore --engine`, `bench` and the `auto` choice read.

Adding a backend is one module beside these (see base.py for what it provides) and one entry here.
"""
from __future__ import annotations

from typing import Mapping

from centernet.inference.backends import eager, graph, onnxruntime, openvino
from centernet.inference.backends.base import PRECISIONS, BackendKind, Workload, precision_reason

AUTO = "auto"
AUTO_HELP = ("auto: the CUDA graph on a GPU where it can run the model (eager otherwise); on a CPU the fastest "
             "engine for this model, measured once (cached)")
BACKENDS: dict[str, BackendKind] = {kind.name: kind for kind in (
    eager.KIND, graph.KIND, onnxruntime.KIND, openvino.KIND, eager.PLAIN_KIND)}
ENGINE_NAMES = (AUTO, *BACKENDS)   # what `--engine` accepts


def engine_help() -> str:
    """`--engine`'s help: auto, then each backend's own line."""
    return "; ".join([AUTO_HELP, *(f"{k.name}: {k.help}" for k in BACKENDS.values())])


def installed_runtimes() -> dict[str, bool]:
    """Backend name -> its optional runtime is importable (True for the torch backends)."""
    return {name: kind.installed() for name, kind in BACKENDS.items()}


def unsupported_reason(engine: str, w: Workload) -> str | None:
    """Why `engine` cannot run the workload, or None when it can (auto: when some backend can)."""
    if engine not in ENGINE_NAMES:
        return f"unknown engine {engine!r}: use {', '.join(ENGINE_NAMES)}"
    if w.precision not in PRECISIONS:
        return precision_reason(w)
    if engine == AUTO:
        return precision_reason(w)  # auto falls back to eager, which runs anything at a valid precision
    return BACKENDS[engine].unsupported_reason(w)


def engine_unsupported_reason(engine: str, device: str, precision: str = "fp32", task: str = "ctdet",
                              decodes_centernet: bool = True, multi_scale: bool = False, fixed_size: bool = True,
                              installed: Mapping[str, bool] | None = None, gpu_bf16: bool = True,
                              deformable: bool = False) -> str | None:
    """`unsupported_reason` with the workload spelt out (see `Workload` for each argument)."""
    return unsupported_reason(engine, Workload(device, precision, task, decodes_centernet, multi_scale, fixed_size,
                                               deformable, installed=installed, gpu_bf16=gpu_bf16))

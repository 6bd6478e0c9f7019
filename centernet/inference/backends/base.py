"""What every backend is: the `Backend` protocol (a prepared model that runs pre-processed batches) and the
`BackendKind` a backend module declares (its name, help, what it can run, how to prepare it).

A backend module (eager.py, graph.py, onnxruntime.py, openvino.py) provides one `KIND` (eager.py two: plain
is eager with no preparation); registry.py lists them. The Detector owns pre-processing, decode, test-time
merge and post-processing; a backend only turns a batch into the heads dict (and, where `runs_frames`,
runs the whole frame path from uint8 frames). Pure here: no torch model is built or run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

import torch

PRECISIONS = ("fp32", "fp16", "bf16", "auto")


@dataclass(frozen=True)
class Workload:
    """What a backend is asked to run: the facts every capability rule reads.

    device: the torch device type ("cpu", "cuda"). precision: fp32, fp16, bf16 or auto.
    decodes_centernet: False for models with their own decoding rule (MoveNet). fixed_size: False with
    keep_res or a resize that follows each image. deformable: the model has deformable convolutions.
    installed: runtime name -> importable (None: not checked). gpu_bf16: this GPU runs bfloat16.
    """

    device: str
    precision: str = "fp32"
    task: str = "ctdet"
    decodes_centernet: bool = True
    multi_scale: bool = False
    fixed_size: bool = True
    deformable: bool = False
    arch: str = "this model"
    installed: Mapping[str, bool] | None = None
    gpu_bf16: bool = True


@dataclass(frozen=True)
class Target:
    """What a backend is prepared from: the model as loaded and the Detector's facts about it."""

    model: torch.nn.Module
    info: Any                  # CheckpointInfo
    spec: Any                  # PreprocessSpec (the Detector's, input size and keep_res applied)
    device: torch.device       # torch's device (pre-processing, decode; the network for torch backends)
    k: int
    flip_pairs: tuple
    requested_device: str      # --device as given: a backend that picks its own device reads it


class Backend(Protocol):
    """A model prepared once to run on one device at one precision."""

    name: str                  # its registry name
    precision: str             # what actually runs (a runtime may fall back, e.g. bf16 -> fp32)
    reason: str                # why it runs: "asked for", or what `auto` measured (one line)
    note: str                  # the same in a few words: "asked for", "fastest of 3, 24 ms/forward"
    runs_frames: bool          # True: `run_frames` serves whole uint8 frames (pre-processing included)
    prefers_batch: bool        # True: a batch of N frames costs less than N single runs (the live model thread
                               # then runs every stream's waiting frame together; else one by one)
    overlaps_runs: bool        # True: two threads may each run a frame at once (with several streams the live
                               # model thread's second worker pre- and post-processes one while the other runs)
    engine: Any                # the torch Engine it runs (stats, pipelines), or None

    def run(self, batch: torch.Tensor) -> dict:
        """Heads (name -> tensor, on `device` or the CPU) of a batch of same-size pre-processed inputs."""

    def run_frames(self, frames: list, flip: bool = False, spec=None):
        """BGR uint8 frames of any sizes -> PipelineOutput, one run for all (only where `runs_frames`)."""

    def hook_modules(self) -> tuple:
        """The torch modules a forward hook may watch while this backend runs (none for runtimes)."""

    def set_parallel_runs(self, runs: int) -> None:
        """Callers will run `runs` frames at once (where `overlaps_runs`): a runtime may split its threads
        among them (OpenVINO's CPU streams); the others ignore it."""


@dataclass(frozen=True)
class BackendKind:
    """One registry entry: what a backend module declares."""

    name: str                                            # the --engine value
    label: str                                           # for menus and readouts ("OpenVINO")
    help: str                                            # one line for --engine's help
    precisions: tuple[str, ...]                          # what it may run, in menu order
    devices: tuple[str, ...]                             # torch device types a menu offers it on
    unsupported_reason: Callable[[Workload], str | None]  # None: it can run the workload
    prepare: Callable[[Target, str], Backend]            # (target, precision) -> a ready backend
    # auto on a CPU times it (None: never); f(workload) -> why not for this workload, or None
    cpu_untimed_reason: Callable[[Workload], str | None] | None = None
    picks_own_device: bool = False                       # torch's side then runs on the CPU
    installed: Callable[[], bool] = lambda: True         # its optional runtime is importable


def precision_reason(w: Workload) -> str | None:
    """The torch precision rules every torch-run backend shares, or None."""
    if w.precision not in PRECISIONS:
        return f"unknown precision {w.precision!r}: use {', '.join(PRECISIONS)}"
    if w.precision == "fp16" and w.device != "cuda":
        return "fp16 needs a CUDA GPU (CPU convolutions have no fast fp16); on CPU use --precision bf16 or fp32"
    if w.precision == "bf16" and w.device == "cuda" and not w.gpu_bf16:
        return "bf16 is not supported by this GPU: use --precision fp16 or fp32"
    return None


def missing_runtime(name: str, w: Workload, install: str) -> str | None:
    """Why a runtime backend cannot run for want of its package, or None (installed or not checked)."""
    if w.installed is None or w.installed.get(name, False):
        return None
    return f"the {name} engine is not installed: {install}"

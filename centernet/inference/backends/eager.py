"""The eager backend (the model prepared for its device by `Engine`: BN folded, channels_last, gathered
deformable convs, fp32 / bf16 / fp16) and the plain backend (eager with no preparation: the model exactly
as loaded, in fp32). Both run anything the Detector can pre-process."""
from __future__ import annotations

import torch

from centernet.errors import ConfigError
from centernet.inference.backends.base import PRECISIONS, BackendKind, Target, Workload, precision_reason
from centernet.inference.backends.torch_engine import EAGER, Engine

PLAIN = "plain"


class EagerBackend:
    """The torch model prepared once by `Engine` (eager mode): a batch in, the heads out."""

    runs_frames = False
    prefers_batch = False   # slower per frame at batch 4 on a 2-core CPU (tools/batch_gain.py); a GPU: not measured
    overlaps_runs = False   # torch already spreads one forward over the cores
    mode = EAGER   # the Engine's mode (the graph backend is the same engine in GRAPH mode)

    def __init__(self, target: Target, precision: str):
        try:  # the engine refuses what its device cannot run (fp16 on a CPU)
            self.engine = Engine(target.model, target.spec, target.device, precision, self.mode, target.k,
                                 target.info.decode.get("box_mode", "size"), target.info.task,
                                 flip_pairs=target.flip_pairs)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.name, self.precision, self.reason = self.mode, self.engine.precision, "asked for"
        self.note = "asked for"

    def run(self, batch: torch.Tensor) -> dict:
        return self.engine.forward(batch)

    def run_frames(self, frames, flip=False, spec=None):
        return self.engine.run_frames(frames, flip, spec)

    def hook_modules(self) -> tuple:
        return (self.engine.model,)

    def set_parallel_runs(self, runs: int) -> None:
        pass   # one forward at a time


class PlainBackend:
    """The model exactly as loaded: no folding, no layout or precision change (the reference path)."""

    runs_frames = False
    prefers_batch = False
    overlaps_runs = False   # torch already spreads one forward over the cores
    engine = None

    def __init__(self, target: Target, precision: str = "fp32"):
        self.model, self.device = target.model, target.device
        self.name, self.precision, self.reason = PLAIN, "fp32", "asked for"
        self.note = "asked for"

    def run(self, batch: torch.Tensor) -> dict:
        return self.model(batch.to(self.device))

    def run_frames(self, frames, flip=False, spec=None):
        raise NotImplementedError("the plain backend runs pre-processed batches only")

    def hook_modules(self) -> tuple:
        return (self.model,)

    def set_parallel_runs(self, runs: int) -> None:
        pass   # one forward at a time


def _plain_reason(w: Workload) -> str | None:
    """Only an unknown precision: the model runs as loaded, so precision and engine options do not apply."""
    return precision_reason(w) if w.precision not in PRECISIONS else None


KIND = BackendKind(
    name=EAGER, label="torch eager",
    help="the model prepared for its device (BN folded, channels_last; any model, task and size)",
    precisions=("fp32", "bf16", "fp16"), devices=("cpu", "cuda"),
    unsupported_reason=precision_reason, prepare=EagerBackend,
    cpu_untimed_reason=lambda w: None)

PLAIN_KIND = BackendKind(
    name=PLAIN, label="plain (as loaded)", help="the model exactly as loaded (fp32, no preparation)",
    precisions=("fp32",), devices=("cpu", "cuda"),
    unsupported_reason=_plain_reason,
    prepare=PlainBackend)


"""The onnxruntime backend: the model exported to ONNX once per weights and input size (cached, see
onnx_export.py) and run by ONNX Runtime on the CPU in fp32; also what runs an exported `.onnx` file."""
from __future__ import annotations

from pathlib import Path

import torch

from centernet.inference.backends.base import BackendKind, Target, Workload, missing_runtime
from centernet.inference.backends.torch_engine import tune_cpu_threads
from centernet.inference.onnx_export import (OnnxRuntimeModel, cached_onnx_model, info_from_metadata,
                                             onnx_runtime_available)

NAME = "onnxruntime"
INSTALL = "pip install -e .[onnx]"


class OnnxRuntimeBackend:
    """An ONNX Runtime session: a batch in, the heads out (on the CPU, fp32)."""

    runs_frames = False
    prefers_batch = False   # measured: no faster per frame at batch 4 on a 2-core CPU (tools/batch_gain.py)
    overlaps_runs = True   # an InferenceSession runs calls from several threads
    engine = None

    def __init__(self, target: Target, precision: str = "fp32"):
        # an exported file loaded as the checkpoint is already a session; a torch model is exported once
        self.session = target.model if isinstance(target.model, OnnxRuntimeModel) else \
            cached_onnx_model(target.model, target.info, tuple(target.spec.input_size), threads=tune_cpu_threads())
        self.name, self.precision, self.reason = NAME, "fp32", "asked for"
        self.note = "asked for"

    def run(self, batch: torch.Tensor) -> dict:
        return self.session(batch)

    def run_frames(self, frames, flip=False, spec=None):
        raise NotImplementedError("the onnxruntime backend runs pre-processed batches only")

    def hook_modules(self) -> tuple:
        return (self.session,)   # an nn.Module that returns the heads dict

    def set_parallel_runs(self, runs: int) -> None:
        pass   # ONNX Runtime shares one thread pool among concurrent calls


def load_exported(path: str | Path):
    """An exported `.onnx` file as (session, CheckpointInfo): the file carries its own info."""
    session = OnnxRuntimeModel(path)
    return session, info_from_metadata(session, path)


def unsupported_reason(w: Workload) -> str | None:
    if w.device != "cpu":
        return "the onnxruntime engine runs on the CPU: add --device cpu (or use --engine auto on a GPU)"
    if w.precision not in ("fp32", "auto"):
        return f"the onnxruntime engine runs fp32: drop --precision {w.precision}"
    if w.multi_scale or not w.fixed_size:
        return "the onnxruntime engine runs one fixed input size: drop --keep-res / --scales"
    return missing_runtime(NAME, w, INSTALL)


def _untimed_reason(w: Workload) -> str | None:
    """Deformable convs export as the reference DeformConv, far slower than eager's gathered conv."""
    return "DeformConv runs ONNX Runtime's reference op (not timed)" if w.deformable else None


KIND = BackendKind(
    name=NAME, label="ONNX Runtime",
    help="CPU, fp32: the model exported to ONNX once (cached) and run by ONNX Runtime",
    precisions=("fp32",), devices=("cpu",),
    unsupported_reason=unsupported_reason, prepare=OnnxRuntimeBackend,
    cpu_untimed_reason=_untimed_reason,
    installed=onnx_runtime_available)

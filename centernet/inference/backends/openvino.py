"""The openvino backend: the model's ONNX export (guarded from OpenVINO's HSwish fusion) compiled by OpenVINO,
fp32 or bf16, on the CPU or an Intel integrated GPU (it picks its own device: torch pre-processes and
decodes on the CPU); peak finding runs inside the compiled graph (openvino_engine.py)."""
from __future__ import annotations

import torch

from centernet.inference.backends.base import BackendKind, Target, Workload, missing_runtime
from centernet.inference.backends.torch_engine import resolve_precision, tune_cpu_threads
from centernet.inference.openvino_engine import cached_openvino_model, openvino_available

NAME = "openvino"
INSTALL = "pip install -e .[onnx] openvino"


class OpenVinoBackend:
    """A compiled OpenVINO model: a batch in, the heads (and the graph's top-K peaks) out."""

    runs_frames = False
    prefers_batch = False   # measured: no faster per frame at batch 4 on a 2-core CPU (tools/batch_gain.py)
    overlaps_runs = True   # one infer request per thread
    engine = None

    def __init__(self, target: Target, precision: str):
        precision = resolve_precision(precision, target.device) if precision == "auto" else precision
        self.model = cached_openvino_model(target.model, target.info, tuple(target.spec.input_size), precision,
                                           threads=tune_cpu_threads(), device=target.requested_device, k=target.k)
        self.name, self.precision, self.reason = NAME, self.model.precision, "asked for"
        self.note = "asked for"

    def run(self, batch: torch.Tensor) -> dict:
        return self.model(batch)

    def run_frames(self, frames, flip=False, spec=None):
        raise NotImplementedError("the openvino backend runs pre-processed batches only")

    def hook_modules(self) -> tuple:
        return (self.model,)   # an nn.Module that returns the heads dict

    def set_parallel_runs(self, runs: int) -> None:
        self.model.set_parallel_runs(runs)


def unsupported_reason(w: Workload) -> str | None:
    if w.precision not in ("fp32", "bf16", "auto"):
        return f"the openvino engine runs fp32 or bf16, not {w.precision}: use --precision fp32 or bf16"
    if w.multi_scale or not w.fixed_size:
        return "the openvino engine runs one fixed input size: drop --keep-res / --scales"
    if w.deformable:
        return (f"the openvino engine cannot run {w.arch}'s deformable convolutions (OpenVINO reads no DeformConv): "
                f"use --engine eager or auto")
    return missing_runtime(NAME, w, INSTALL)


KIND = BackendKind(
    name=NAME, label="OpenVINO",
    help="the same ONNX export compiled by OpenVINO, fp32 or bf16 (--device cpu, or gpu for an Intel "
         "integrated GPU)",
    precisions=("fp32", "bf16"), devices=("cpu",),
    unsupported_reason=unsupported_reason, prepare=OpenVinoBackend,
    cpu_untimed_reason=lambda w: None, picks_own_device=True, installed=openvino_available)

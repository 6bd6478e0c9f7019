"""The fast per-frame path: the same model, prepared once for its device.

- CPU ("eager"): inference mode, channels_last, batch norm folded into the convolutions (torch.fx),
  deformable convs as gathers + matmul, threads as the machine has cores; fp32 (outputs equal the
  plain model's within float rounding) or bf16 (oneDNN's native bfloat16: ~2x faster where the
  CPU has AVX512-BF16/AMX, same AP on coco_mini; what `precision="auto"` picks there).
- CUDA ("graph"): fp16/bf16/fp32 weights, channels_last, and one `torch.cuda.CUDAGraph` per input
  (frame size, batch, pre-processing spec, flip) capturing the `FramePipeline` (frame_pipeline.py:
  pre-processing, [flip], network, [flip merge], fixed-shape decode for ctdet, multi_pose or ddd).
  Per batch: copy into a pinned host buffer, one async H2D, replay, one D2H of the K rows per
  image (cuda_graph.py). Graphs are cached (bounded, LRU); `stats` counts captures and replays.

The plain torch path is the contract; `Engine` only makes it faster.
"""
from __future__ import annotations

import copy
import functools
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from centernet.inference.bn_folding import fold_batch_norm
from centernet.inference.cuda_graph import CudaGraphPipeline
from centernet.inference.backends.base import Workload, precision_reason
from centernet.detections import FixedDetections
from centernet.inference.frame_pipeline import FLIP_TASKS, PIPELINE_TASKS, DecodeOptions, FramePipeline
from centernet.geometry.transforms import InputTransform, PreprocessSpec, plan_task_transform
from centernet.models.backbones.dcn import use_fast_deform_conv
from kernels.runtime import probe

log = logging.getLogger(__name__)
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
MAX_GRAPHS = 8  # captured graphs kept (each holds its own memory pool): least recently used go first
GRAPH_RESIZE_MODES = ("affine", "stretch", "pad_square")
MODES = ("eager", "graph")  # the two torch backends this engine serves (backends/eager.py, backends/graph.py)
EAGER, GRAPH = MODES
GRAPH_NEEDS = "the graph engine needs CUDA, a ctdet, multi_pose or ddd model and a fixed input size"


@dataclass
class EngineStats:
    captures: int = 0    # CUDA graphs captured (a new frame size, batch, input spec or flip)
    replays: int = 0     # batches run through a captured graph
    eager_runs: int = 0  # forwards and frame pipelines run without a graph
    evictions: int = 0   # graphs dropped from the bounded cache
    capture_failures: int = 0  # inputs whose capture failed: they run eager from then on
    last_times: dict = field(default_factory=dict)  # per-image stage ms of the last batch (set by Detector)


@dataclass
class PipelineOutput:
    """What `Engine.run_frames` returns for a batch of same-size frames."""

    detections: FixedDetections  # on the host, (B, K, ...) in output-map cells; score 0 marks no detection
    transform: InputTransform    # shared by every frame of the batch


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions natively here (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto": fp16 on CUDA, bf16 on a CPU with native bfloat16, else fp32; others as asked.

    bf16 on CPU: ~2x faster where oneDNN runs it natively; on coco_mini the shipped models keep
    their AP (mobilenetv3 box AP 33.0 vs 32.8 in fp32, MoveNet keypoint AP 31.5 vs 31.3) although
    only ~90 % of the fp32 detections above 0.3 come back within IoU 0.95 / 0.02 score
    (docs/benchmarks.md). detect and annotate default to fp32, equal to the original.
    """
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_has_native_bf16() else "fp32"
    unsupported = precision_reason(Workload(device.type, precision))
    if unsupported:
        raise ValueError(unsupported)
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        log.warning("this CPU has no native bfloat16 (AVX512-BF16/AMX): bf16 will be emulated and slower than fp32")
    return precision


def tune_cpu_threads() -> int:
    """Intra-op threads: CENTERNET_THREADS when set, else torch's default (one per physical core),
    capped at the cores this process may use (containers often allow fewer than the machine has)."""
    wanted = int(os.environ.get("CENTERNET_THREADS", "0") or 0)
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = min(wanted or torch.get_num_threads(), allowed)
    if n != torch.get_num_threads():
        torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


class FloatHeads(nn.Module):
    """Runs a model in reduced precision and returns its heads in float32 (sigmoids and decoding
    then work at full precision)."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x):
        return {k: v.float() for k, v in self.model(x.to(self.dtype)).items()}


def prepare_model(model: nn.Module, device: torch.device, precision: str = "fp32", fold_bn: bool = True,
                  fast_deform: bool | None = None) -> nn.Module:
    """A copy of the model made ready for fast inference on `device` (the original is untouched).

    BN folded into convs, channels_last, weights in `precision` (heads returned in float32).
    fast_deform (default: on CPU, or in bf16): deformable convs as row gathers + one matmul
    (`use_fast_deform_conv`), 2-4x faster than torchvision's CPU kernel and able to run bf16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    fast = fold_batch_norm(model.eval()) if fold_bn else copy.deepcopy(model.eval())
    if fast_deform is None:
        fast_deform = device.type == "cpu" or precision == "bf16"
    use_fast_deform_conv(fast, fast_deform)
    fast = fast.to(device).to(memory_format=torch.channels_last)
    if precision != "fp32":
        fast = FloatHeads(fast.to(PRECISIONS[precision]), PRECISIONS[precision])
    return fast.eval()


class Engine:
    """pre -> net (-> decode) prepared once for a device; the Detector never needs to know which path runs.

    mode "eager" runs anywhere; "graph" needs CUDA, a ctdet, multi_pose or ddd model and a fixed
    input size; "auto" picks graph where it can, eager otherwise. `run_frames` runs the whole
    `FramePipeline` for a batch of same-size frames: replaying a captured graph in graph mode, as
    plain torch otherwise. flip_pairs: the (left, right) joints a mirror swaps (multi_pose flip).
    """

    def __init__(self, model: nn.Module, spec: PreprocessSpec, device: torch.device, precision: str = "fp32",
                 mode: str = "auto", k: int = 100, box_mode: str = "size", task: str = "ctdet",
                 use_kernels: bool | None = None, flip_pairs: tuple = (), max_graphs: int = MAX_GRAPHS):
        self.device, self.spec, self.k, self.box_mode = device, spec, k, box_mode
        self.stats = EngineStats()
        self.task, self.flip_pairs, self.max_graphs = task, tuple(flip_pairs), max_graphs
        if device.type == "cpu":
            tune_cpu_threads()
        precision = resolve_precision(precision, device)
        not_graph = graph_reason(Workload(device.type, precision, task, fixed_size=graph_ready(spec)))
        can_graph = not_graph is None
        if mode == GRAPH and not can_graph:
            raise ValueError(not_graph)
        self.mode = (GRAPH if can_graph else EAGER) if mode == "auto" else mode
        self.precision = precision
        self.deform_conv = deform_conv_kind(self.mode, device, precision)
        self.model = prepare_model(model, device, precision, fast_deform=self.deform_conv == "gathered")
        if use_kernels is None:
            use_kernels = device.type == "cuda" and kernels_usable()
        self.use_kernels = use_kernels
        self.failed_captures: dict = {}  # graph key -> its capture's error: that input runs eager
        self._cache: OrderedDict = OrderedDict()  # (frame hw, batch or None, spec, flip) -> graph or pipeline

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> dict:
        """The network on an already pre-processed batch (eager path)."""
        self.stats.eager_runs += 1
        x = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def plan(self, frame_hw: tuple[int, int], spec: PreprocessSpec | None = None) -> InputTransform:
        """The input transform of a frame size: the Detector's at scale 1 (ddd keeps its own geometry)."""
        return plan_task_transform(self.task, spec or self.spec, tuple(frame_hw))

    def pipeline(self, frame_hw: tuple[int, int], flip: bool = False,
                 spec: PreprocessSpec | None = None) -> FramePipeline:
        """The per-frame computation for frames of one size, on this engine's device and model."""
        spec = spec or self.spec
        options = DecodeOptions(self.task, self.k, self.box_mode, flip and self.task in FLIP_TASKS, self.flip_pairs)
        input_dtype = torch.float16 if self.precision == "fp16" else torch.float32  # the model casts bf16 itself
        return FramePipeline(self.model, spec, self.plan(frame_hw, spec), options, self.device, input_dtype,
                             self.use_kernels)

    def graph_for(self, frame_hw: tuple[int, int], batch: int, flip: bool = False,
                  spec: PreprocessSpec | None = None):
        """The captured graph for this frame size, batch, spec and flip (captured on first use), or None
        when its capture failed, now or before: that input then runs eager, and the failure is
        logged once (a failed capture is not retried on every frame)."""
        spec = spec or self.spec
        flip = flip and self.task in FLIP_TASKS
        key = (tuple(frame_hw), batch, spec, flip)
        if key in self.failed_captures:
            return None

        def capture():
            graph = CudaGraphPipeline(self.pipeline(frame_hw, flip, spec), tuple(frame_hw), batch)
            self.stats.captures += 1
            return graph

        try:
            return self._cached(key, capture)
        except Exception as e:  # anything the capture meets (a hook that syncs, an allocation, a kernel)
            self.failed_captures[key] = f"{type(e).__name__}: {e}"
            self.stats.capture_failures += 1
            log.warning("CUDA graph capture failed for %d frame(s) of %dx%d (%s: %s); these frames run eager "
                        "from now on", batch, frame_hw[1], frame_hw[0], type(e).__name__, str(e).splitlines()[0])
            return None

    def run_frames(self, frames: list[np.ndarray], flip: bool = False,
                   spec: PreprocessSpec | None = None) -> PipelineOutput:
        """Same-size BGR uint8 frames -> their fixed-shape detections on the host (output-map cells)."""
        hw = tuple(frames[0].shape[:2])
        graph = self.graph_for(hw, len(frames), flip, spec) if self.mode == GRAPH else None
        if graph is not None:
            dets = graph.run(frames)
            self.stats.replays += 1
            return PipelineOutput(dets, graph.transform)
        spec = spec or self.spec
        flip = flip and self.task in FLIP_TASKS
        pipe = self._cached((hw, None, spec, flip), lambda: self.pipeline(hw, flip, spec))
        with torch.inference_mode():
            dets = pipe(torch.from_numpy(np.stack(frames)).to(self.device))
        self.stats.eager_runs += 1
        return PipelineOutput(dets.map(lambda t: t.to("cpu")), pipe.transform)

    def run_graph(self, frames: list[np.ndarray],
                  flip: bool = False) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, InputTransform]]:
        """Same-size BGR uint8 frames -> per frame (scores, classes, boxes in cells, transform): the box
        columns of `run_frames`, zero-score rows included."""
        out = self.run_frames(frames, flip)
        d = out.detections
        return [(d.scores[i], d.labels[i], d.boxes[i], out.transform) for i in range(len(frames))]

    def _cached(self, key, make):
        """A bounded LRU cache of graphs and pipelines: evicting a graph frees its memory pool."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = self._cache[key] = make()
        if len(self._cache) > self.max_graphs:
            self._cache.popitem(last=False)
            self.stats.evictions += 1
        return value


def deform_conv_kind(mode: str, device: torch.device, precision: str) -> str:
    """Which deformable conv the engine's model runs: "gathered" (`gathered_deform_conv2d`, plain
    torch ops) or "torchvision" (`deform_conv2d`).

    Always gathered in graph mode: torchvision's CUDA kernel (0.26, on the GPU machines, and before
    pytorch/vision#9522) launches on the legacy default stream, not the current one, so a capture
    leaves it out and replays give wrong outputs with no error; the gathered conv runs on the
    current stream, in fp16 too. Also gathered on the CPU (faster) and in bf16 (torchvision has no
    bf16 kernel); torchvision's otherwise."""
    if mode == GRAPH or device.type == "cpu" or precision == "bf16":
        return "gathered"
    return "torchvision"


def kernels_usable() -> bool:
    """Whether the CuPy kernels run here (probed once per process: `kernels.runtime.probe`); when
    not, the torch pre-processing and decode run instead, and the log says why, once."""
    result = probe()
    if not result.usable:
        _say_kernels_off(result.reason, result.installed)
    return result.usable


@functools.lru_cache(maxsize=None)
def _say_kernels_off(reason: str, installed: bool) -> None:
    (log.warning if installed else log.info)(
        "CUDA kernels off: %s; the torch pre-processing and decode run instead", reason)


def graph_reason(w: Workload) -> str | None:
    """Why a captured CUDA graph of the frame pipeline cannot run this workload, or None (precision aside)."""
    if not w.decodes_centernet:
        return "the graph engine cannot run a model that decodes its own way (MoveNet): use --engine auto or eager"
    if w.multi_scale:
        return "the graph engine runs one scale (multi-scale testing runs eager): use --engine auto or eager"
    if w.device != "cuda":
        return f"{GRAPH_NEEDS}: this runs on the {w.device.upper()}; use --engine eager"
    if w.task not in PIPELINE_TASKS:  # the frame pipeline, which a CUDA graph captures
        return f"{GRAPH_NEEDS}: this is a {w.task} model; use --engine eager"
    if not w.fixed_size:
        return f"{GRAPH_NEEDS}: the input size follows each image (--keep-res); use --engine eager"
    return None


def graph_ready(spec: PreprocessSpec) -> bool:
    """A spec a graph can serve: a fixed input size whatever the frame size (keep_res follows each frame)."""
    return spec.resize in GRAPH_RESIZE_MODES and not spec.keep_res

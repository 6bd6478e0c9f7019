"""The fast per-frame path: the same model, prepared once for its device.

- CPU ("eager"): inference mode, channels_last, batch norm folded into the convolutions (torch.fx),
  deformable convs as gathers + matmul, threads as the machine has cores; fp32 (outputs equal the
  plain model's within float rounding) or bf16 (oneDNN's native bfloat16: ~2x faster where the
  CPU has AVX512-BF16/AMX, same AP on coco_mini; what `precision="auto"` picks there).
- CUDA ("graph"): fp16/bf16/fp32 weights, channels_last, and one `torch.cuda.CUDAGraph` per input
  (canvas, batch, pre-processing spec, flip) capturing the `FramePipeline` (frame_pipeline.py:
  pre-processing, [flip], network, [flip merge], fixed-shape decode for ctdet, multi_pose or ddd).
  Each frame's warp is data (frame_canvas.py), so frames of different sizes share a replay; the
  canvas grows to the largest frame seen (re-capturing once per growth), up to a bound beyond which a
  frame gets a canvas of its own. Per batch: copy into pinned host buffers, async H2Ds, replay, one
  D2H of the K rows per image (cuda_graph.py). Graphs are cached (bounded, LRU); `stats` counts
  captures and replays.

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
from centernet.inference.frame_canvas import MAX_CANVAS, fits, rounded_canvas, within_bound
from centernet.inference.frame_pipeline import FLIP_TASKS, PIPELINE_TASKS, DecodeOptions, FramePipeline
from centernet.geometry.transforms import InputTransform, PreprocessSpec
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
    captures: int = 0    # CUDA graphs captured (a new canvas, batch, input spec or flip)
    replays: int = 0     # batches run through a captured graph
    eager_runs: int = 0  # forwards and frame pipelines run without a graph
    evictions: int = 0   # graphs dropped from the bounded cache (or left behind by a grown canvas)
    capture_failures: int = 0  # inputs whose capture failed: they run eager from then on
    last_times: dict = field(default_factory=dict)  # per-image stage ms of the last batch (set by Detector)


@dataclass
class PipelineOutput:
    """What `Engine.run_frames` returns for a batch of frames (of any sizes)."""

    detections: FixedDetections              # on the host, (B, K, ...) in output-map cells; score 0: none
    transforms: tuple[InputTransform, ...]   # frame i's, to take its detections back to image pixels


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
    `FramePipeline` for a batch of frames of any sizes (each with its own warp): replaying a captured
    graph in graph mode, as plain torch otherwise. flip_pairs: the (left, right) joints a mirror swaps
    (multi_pose flip).
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
        self._cache: OrderedDict = OrderedDict()  # (canvas hw or None, batch or None, spec, flip) -> graph or pipeline
        self.canvas_hw: tuple[int, int] | None = None  # the canvas graphs share; grows with the frames seen
        self._oversized: set = set()  # canvases of frames beyond MAX_CANVAS (logged once each)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> dict:
        """The network on an already pre-processed batch (eager path)."""
        self.stats.eager_runs += 1
        x = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def pipeline(self, flip: bool = False, spec: PreprocessSpec | None = None) -> FramePipeline:
        """The per-frame computation (frames of any sizes) on this engine's device and model."""
        spec = spec or self.spec
        options = DecodeOptions(self.task, self.k, self.box_mode, flip and self.task in FLIP_TASKS, self.flip_pairs)
        input_dtype = torch.float16 if self.precision == "fp16" else torch.float32  # the model casts bf16 itself
        return FramePipeline(self.model, spec, options, self.device, input_dtype, self.use_kernels)

    def canvas_for(self, frame_sizes: list[tuple[int, int]]) -> tuple[int, int]:
        """The canvas these frames run on: the shared one, grown to hold them if needed (sides rounded up,
        at most MAX_CANVAS; the graphs of the smaller canvas are dropped: they would not serve again), or,
        for a frame beyond MAX_CANVAS, a canvas of this batch's own (captured apart, logged once)."""
        if fits(self.canvas_hw, frame_sizes):
            return self.canvas_hw
        grown = rounded_canvas(frame_sizes, self.canvas_hw)
        if within_bound(grown):
            if self.canvas_hw is not None:
                log.info("frames up to %dx%d: the shared frame canvas grows from %dx%d to %dx%d (graphs captured "
                         "again)", grown[1], grown[0], self.canvas_hw[1], self.canvas_hw[0], grown[1], grown[0])
                self._drop_canvas(self.canvas_hw)
            self.canvas_hw = grown
            return grown
        own = rounded_canvas(frame_sizes)
        if own not in self._oversized:
            self._oversized.add(own)
            log.warning("a frame larger than %dx%d: its batch runs on a %dx%d canvas of its own, captured apart",
                        MAX_CANVAS[1], MAX_CANVAS[0], own[1], own[0])
        return own

    def graph_for(self, frame_sizes: list[tuple[int, int]], flip: bool = False,
                  spec: PreprocessSpec | None = None):
        """The captured graph for a batch of frames of these sizes (its canvas: `canvas_for`), spec and
        flip, captured on first use, or None when its capture failed, now or before: that input then
        runs eager, and the failure is logged once (a failed capture is not retried on every frame)."""
        spec = spec or self.spec
        flip = flip and self.task in FLIP_TASKS
        canvas = self.canvas_for(frame_sizes)
        key = (canvas, len(frame_sizes), spec, flip)
        if key in self.failed_captures:
            return None

        def capture():
            graph = CudaGraphPipeline(self.pipeline(flip, spec), canvas, len(frame_sizes))
            self.stats.captures += 1
            return graph

        try:
            return self._cached(key, capture)
        except Exception as e:  # anything the capture meets (a hook that syncs, an allocation, a kernel)
            self.failed_captures[key] = f"{type(e).__name__}: {e}"
            self.stats.capture_failures += 1
            sizes = ", ".join(f"{w}x{h}" for h, w in dict.fromkeys(tuple(hw) for hw in frame_sizes))
            log.warning("CUDA graph capture failed for %d frame(s) of %s on a %dx%d canvas (%s: %s); these frames "
                        "run eager from now on", len(frame_sizes), sizes, canvas[1], canvas[0], type(e).__name__,
                        str(e).splitlines()[0])
            return None

    def run_frames(self, frames: list[np.ndarray], flip: bool = False,
                   spec: PreprocessSpec | None = None) -> PipelineOutput:
        """BGR uint8 frames of any sizes -> their fixed-shape detections on the host (output-map cells),
        one graph replay (or one eager pipeline run) for all of them."""
        spec = spec or self.spec
        flip = flip and self.task in FLIP_TASKS
        sizes = [tuple(f.shape[:2]) for f in frames]
        graph = self.graph_for(sizes, flip, spec) if self.mode == GRAPH else None
        if graph is not None:
            warps = graph.pipeline.warps(sizes)
            dets = graph.run(frames, warps)
            self.stats.replays += 1
            return PipelineOutput(dets, warps.transforms)
        pipe = self._cached((None, None, spec, flip), lambda: self.pipeline(flip, spec))
        with torch.inference_mode():
            dets, warps = pipe.run(frames)
        self.stats.eager_runs += 1
        return PipelineOutput(dets.map(lambda t: t.to("cpu")), warps.transforms)

    def run_graph(self, frames: list[np.ndarray],
                  flip: bool = False) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, InputTransform]]:
        """BGR uint8 frames -> per frame (scores, classes, boxes in cells, transform): the box columns of
        `run_frames`, zero-score rows included."""
        out = self.run_frames(frames, flip)
        d = out.detections
        return [(d.scores[i], d.labels[i], d.boxes[i], out.transforms[i]) for i in range(len(frames))]

    def _drop_canvas(self, canvas: tuple[int, int]) -> None:
        """Frees the graphs of a canvas the engine no longer uses (each holds its own memory pool)."""
        for key in [key for key in self._cache if key[0] == canvas]:
            del self._cache[key]
            self.stats.evictions += 1

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

"""The fast per-frame path: the same model, prepared once for its device.

- CPU ("eager"): inference mode, channels_last, batch norm folded into the convolutions (torch.fx),
  deformable convs as gathers + matmul, threads as the machine has cores; fp32 (outputs equal the
  plain model's within float rounding) or bf16 (oneDNN's native bfloat16: ~2x faster where the
  CPU has AVX512-BF16/AMX, same AP on coco_mini; what `precision="auto"` picks there).
- CUDA ("graph"): fp16/bf16/fp32 weights, channels_last, and one `torch.cuda.CUDAGraph` per input
  shape capturing pre-processing (uint8 frame -> normalised input, CuPy kernel or its torch
  reference) + network + fixed-shape peak decoding. Per frame: copy into a pinned host buffer, one
  async H2D, replay, one D2H of the K detections. Graphs are cached by shape (bounded, LRU).

The plain torch path is the contract; `Engine` only makes it faster.
"""
from __future__ import annotations

import copy
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .bn_folding import fold_batch_norm
from .decode import gather_at, peak_mask_scores, topk_peaks
from .transforms import InputTransform, PreprocessSpec, plan_transform

log = logging.getLogger(__name__)
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
MAX_GRAPHS = 8


@dataclass
class EngineStats:
    captures: int = 0
    replays: int = 0
    eager_runs: int = 0
    last_times: dict = field(default_factory=dict)


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
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use auto, {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA GPU (CPU convolutions have no fast fp16); on CPU use --precision bf16 "
                         "or fp32")
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
    from .backbones.dcn import use_fast_deform_conv
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


def ctdet_decode_fixed(hm: torch.Tensor, wh: torch.Tensor, reg: torch.Tensor | None, k: int, box_mode: str,
                       peaks=None):
    """Fixed-shape ctdet decode (graph-capturable): scores (B, K), classes (B, K), boxes (B, K, 4) in cells.

    Rows with score 0 are non-peaks, dropped on the host. `peaks` optionally supplies the
    (scores, classes, ys, xs, pixel) of a faster peak finder (the CuPy kernel).
    """
    if peaks is None:
        peaks = topk_peaks(peak_mask_scores(torch.sigmoid(hm)), k)
    scores, classes, ys, xs, pixel = peaks
    xs, ys = xs.float(), ys.float()
    if reg is not None:
        off = gather_at(reg, pixel)
        xs, ys = xs + off[..., 0], ys + off[..., 1]
    size = gather_at(wh, pixel).float()
    if box_mode == "ltrb":
        boxes = torch.stack([xs - size[..., 0], ys - size[..., 1], xs + size[..., 2], ys + size[..., 3]], -1)
    else:
        boxes = torch.stack([xs - size[..., 0] / 2, ys - size[..., 1] / 2, xs + size[..., 0] / 2,
                             ys + size[..., 1] / 2], -1)
    return scores, classes, boxes


class CudaGraphPipeline:
    """One captured graph: frames of one size and batch -> fixed-shape ctdet detections."""

    def __init__(self, model: nn.Module, spec: PreprocessSpec, frame_hw: tuple[int, int], batch: int, k: int,
                 box_mode: str, device: torch.device, input_dtype: torch.dtype, use_kernels: bool):
        from .gpu_preprocess import preprocess_on_device, sampling_grid, source_matrix
        self.transform = plan_transform(spec, frame_hw)
        h, w = frame_hw
        ih, iw = self.transform.input_size
        self.host_frames = torch.empty(batch, h, w, 3, dtype=torch.uint8).pin_memory()
        self.frames = torch.empty(batch, h, w, 3, dtype=torch.uint8, device=device)
        self.input = torch.empty(batch, 3, ih, iw, dtype=input_dtype, device=device)
        grid = sampling_grid(self.transform, spec, device)
        kernel_pre = None
        if use_kernels:
            from kernels.preprocess import warp_normalize, warp_params
            params = warp_params(source_matrix(self.transform, spec), spec.pixel_scale, spec.mean, spec.std,
                                 spec.channel_order == "rgb", spec.truncate_pixels)
            kernel_pre = lambda: warp_normalize(self.frames, self.input, params)  # noqa: E731
            from kernels.peaks import candidate_buffers, peak_topk

        def pre():
            if kernel_pre is not None:
                kernel_pre()
            else:
                for i in range(batch):
                    self.input[i:i + 1].copy_(preprocess_on_device(self.frames[i], self.transform, spec, grid,
                                                                   input_dtype))

        def step():
            pre()
            out = model(self.input.contiguous(memory_format=torch.channels_last))
            peaks = None
            if use_kernels:
                peaks = peak_topk(out["hm"].float(), k, self.peak_buffers)
            return ctdet_decode_fixed(out["hm"].float(), out["wh"], out.get("reg"), k, box_mode, peaks)

        if use_kernels:
            with torch.no_grad():
                hm_shape = model(self.input.contiguous(memory_format=torch.channels_last))["hm"].shape
            self.peak_buffers = candidate_buffers(batch, *hm_shape[1:], min(k, 1024), device)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(3):  # warm-up: cuDNN autotuning and lazy allocations stay out of the graph
                step()
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.scores, self.classes, self.boxes = step()
        kk = self.scores.shape[1]
        self.host_scores = torch.empty(batch, kk, dtype=torch.float32).pin_memory()
        self.host_classes = torch.empty(batch, kk, dtype=torch.int64).pin_memory()
        self.host_boxes = torch.empty(batch, kk, 4, dtype=torch.float32).pin_memory()
        self.done = torch.cuda.Event()

    def run(self, frames: list[np.ndarray]):
        for i, f in enumerate(frames):
            self.host_frames[i].numpy()[...] = f
        self.frames.copy_(self.host_frames, non_blocking=True)
        self.graph.replay()
        self.host_scores.copy_(self.scores, non_blocking=True)
        self.host_classes.copy_(self.classes, non_blocking=True)
        self.host_boxes.copy_(self.boxes, non_blocking=True)
        self.done.record()
        self.done.synchronize()
        return self.host_scores.clone(), self.host_classes.clone(), self.host_boxes.clone()


class Engine:
    """pre -> net (-> decode) prepared once for a device; the Detector never needs to know which path runs.

    mode "eager" runs anywhere; "graph" needs CUDA and a ctdet model; "auto" picks graph on CUDA for
    ctdet, eager otherwise.
    """

    def __init__(self, model: nn.Module, spec: PreprocessSpec, device: torch.device, precision: str = "fp32",
                 mode: str = "auto", k: int = 100, box_mode: str = "size", task: str = "ctdet",
                 use_kernels: bool | None = None):
        self.device, self.spec, self.k, self.box_mode = device, spec, k, box_mode
        self.stats = EngineStats()
        if device.type == "cpu":
            tune_cpu_threads()
        precision = resolve_precision(precision, device)
        can_graph = device.type == "cuda" and task == "ctdet" and spec.resize in ("affine", "stretch", "pad_square") \
            and not spec.keep_res
        if mode == "graph" and not can_graph:
            raise ValueError("the graph engine needs CUDA, a ctdet model and a fixed input size; use --engine eager")
        self.mode = ("graph" if can_graph else "eager") if mode == "auto" else mode
        self.precision = precision
        self.model = prepare_model(model, device, precision)
        if use_kernels is None:
            from kernels.runtime import cupy_available
            use_kernels = device.type == "cuda" and cupy_available()
            if device.type == "cuda" and not use_kernels:
                log.info("CuPy not installed: the torch pre-processing and decode run instead of the kernels")
        self.use_kernels = use_kernels
        self._graphs: OrderedDict = OrderedDict()

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> dict:
        """The network on an already pre-processed batch (eager path)."""
        self.stats.eager_runs += 1
        x = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def graph_for(self, frame_hw: tuple[int, int], batch: int) -> CudaGraphPipeline:
        key = (tuple(frame_hw), batch, self.spec)
        if key in self._graphs:
            self._graphs.move_to_end(key)
            return self._graphs[key]
        dtype = PRECISIONS[self.precision]
        pipe = CudaGraphPipeline(self.model, self.spec, frame_hw, batch, self.k, self.box_mode, self.device,
                                 dtype if self.precision != "fp32" else torch.float32, self.use_kernels)
        self.stats.captures += 1
        self._graphs[key] = pipe
        if len(self._graphs) > MAX_GRAPHS:
            self._graphs.popitem(last=False)
        return pipe

    def run_graph(self, frames: list[np.ndarray]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, InputTransform]]:
        """Same-size BGR uint8 frames -> per frame (scores, classes, boxes in cells, transform)."""
        pipe = self.graph_for(frames[0].shape[:2], len(frames))
        scores, classes, boxes = pipe.run(frames)
        self.stats.replays += 1
        return [(scores[i], classes[i], boxes[i], pipe.transform) for i in range(len(frames))]

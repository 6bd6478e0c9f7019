"""The per-frame computation as plain torch: uint8 frames in, fixed-shape detections out.

`FramePipeline`: a canvas of frames (B, H, W, 3) uint8 BGR on the device, each frame with its own
warp (a (B, 2, 3) source matrix, a (B, 2) size and (B, 4) sample bounds, `frame_canvas.py`) -> pre-processing (the torch
reference of `gpu_preprocess.py`, or the CuPy kernel) -> [flip: the mirrored inputs appended, batch
2B] -> network -> [`merge_flip`] -> the task's fixed-shape decoder -> `FixedDetections` (B, K, ...)
in output-map cells. The warps are inputs, not constants: frames of different sizes share a call.

Nothing in it waits for the host, indexes with a mask or branches on tensor values, so a CUDA graph
(`cuda_graph.py`) captures one call as it is. It runs on any device: on the CPU it is how the tests
check the graph's computation against the Detector's eager path.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from centernet.inference.decode import decode_fixed, gather_at
from centernet.detections import FixedDetections
from centernet.inference.frame_canvas import FrameWarps, frame_canvas, plan_warps
from centernet.inference.gpu_preprocess import input_coordinates, normalization, preprocess_frames
from centernet.geometry.transforms import InputTransform, PreprocessSpec, plan_task_transform
from centernet.inference.tta import merge_flip
from kernels.gather import gather_peaks
from kernels.peaks import candidate_buffers, peak_topk, supports
from kernels.preprocess import warp_normalize, warp_params

PIPELINE_TASKS = ("ctdet", "multi_pose", "ddd")
FLIP_TASKS = ("ctdet", "multi_pose")  # ddd ignores flip, as the original


@dataclass(frozen=True)
class DecodeOptions:
    """How a batch's heads become detections: the task's decoder, K, the box convention, flip merging."""

    task: str = "ctdet"
    k: int = 100
    box_mode: str = "size"
    flip: bool = False
    flip_pairs: tuple = ()  # (left, right) joint pairs swapped in the mirror (multi_pose)

    @property
    def merges_flip(self) -> bool:
        return self.flip and self.task in FLIP_TASKS


class FramePipeline:
    """pre -> [flip] -> net -> [merge] -> fixed decode for frames of any sizes at the spec's input size.

    The model is used as given (an `Engine`'s prepared model); `input_dtype` is the dtype of the
    pre-processed input (float16 halves the kernel's writes when the model runs in fp16).
    """

    def __init__(self, model: nn.Module, spec: PreprocessSpec, options: DecodeOptions,
                 device: torch.device | str, input_dtype: torch.dtype = torch.float32, use_kernels: bool = False):
        if options.task not in PIPELINE_TASKS:
            raise ValueError(f"no fixed-shape pipeline for task {options.task!r}: use {', '.join(PIPELINE_TASKS)}")
        self.model, self.spec, self.options = model, spec, options
        self.input_size = tuple(spec.input_size)
        self.device = torch.device(device)
        self.input_dtype = input_dtype
        self.use_kernels = use_kernels
        self._peak_buffers: dict = {}
        self._gather = gather_at
        if use_kernels:
            self._gather = gather_peaks
            self._warp = warp_params(spec.pixel_scale, spec.mean, spec.std, spec.channel_order == "rgb",
                                     spec.truncate_pixels)
        else:  # made once: building them inside a capture would copy from the host
            self._coords = input_coordinates(self.input_size, self.device)
            self._norm = normalization(spec, self.device)

    def plan(self, frame_hw: tuple[int, int]) -> InputTransform:
        """The transform of a frame of this size: the Detector's at scale 1 (ddd keeps its own geometry)."""
        return plan_task_transform(self.options.task, self.spec, tuple(frame_hw))

    def warps(self, frame_sizes: list[tuple[int, int]]) -> FrameWarps:
        """Each frame's warp (host side), to fill the matrices, sizes and bounds a call reads."""
        warps = plan_warps(self.options.task, self.spec, frame_sizes)
        if warps.transforms[0].input_size != self.input_size:
            raise ValueError(f"this pipeline runs {self.input_size} inputs, the frames plan "
                             f"{warps.transforms[0].input_size}")
        return warps

    def __call__(self, frames: torch.Tensor, matrices: torch.Tensor, sizes: torch.Tensor,
                 bounds: torch.Tensor) -> FixedDetections:
        return self.infer(self.preprocess(frames, matrices, sizes, bounds))

    def preprocess(self, frames: torch.Tensor, matrices: torch.Tensor, sizes: torch.Tensor,
                   bounds: torch.Tensor) -> torch.Tensor:
        """Canvas (B, H, W, 3) uint8 BGR, matrices (B, 2, 3) float32, own sizes (B, 2) int32, sample bounds
        (B, 4) float32 -> (B, 3, h, w) normalised network input."""
        if not self.use_kernels:
            return preprocess_frames(frames, matrices, sizes, bounds, self.spec, self._coords, self.input_dtype,
                                     self._norm)
        h, w = self.input_size
        x = torch.empty(frames.shape[0], 3, h, w, dtype=self.input_dtype, device=frames.device)
        warp_normalize(frames.contiguous(), matrices.contiguous(), sizes.contiguous(), bounds.contiguous(), x,
                       self._warp)
        return x

    def run(self, frames: list) -> tuple[FixedDetections, FrameWarps]:
        """BGR uint8 frames of any sizes (numpy) -> their detections, without a graph: one canvas, each
        frame's own warp. Returns the warps too (their transforms take detections to image pixels)."""
        warps = self.warps([f.shape[:2] for f in frames])
        on_device = [torch.from_numpy(a).to(self.device)
                     for a in (frame_canvas(frames), warps.matrices, warps.sizes, warps.bounds)]
        return self(*on_device), warps

    def infer(self, x: torch.Tensor) -> FixedDetections:
        """Network input (B, 3, h, w) -> detections (B, K, ...) in output-map cells."""
        o = self.options
        if o.merges_flip:
            x = torch.cat([x, x.flip(3)])
        outputs = self.model(x.contiguous(memory_format=torch.channels_last))
        if o.merges_flip:
            return decode_fixed(o.task, merge_flip(outputs, o.task, o.flip_pairs), o.k, o.box_mode,
                                heat_is_logits=False, gather=self._gather)
        return decode_fixed(o.task, outputs, o.k, o.box_mode, peaks=self._kernel_peaks(outputs["hm"]),
                            gather=self._gather)

    def _kernel_peaks(self, hm: torch.Tensor):
        """The CuPy peak finder's top K on the logits (None: the torch decode finds them, also for
        what the kernel cannot serve: K above its tile, logits other than float32)."""
        if not self.use_kernels:
            return None
        if not supports(self.options.k, hm.dtype):
            return None
        b, c, h, w = hm.shape
        if hm.shape not in self._peak_buffers:  # first (warm-up) call: allocated before any capture
            self._peak_buffers[hm.shape] = candidate_buffers(b, c, h, w, min(self.options.k, c * h * w), hm.device)
        return peak_topk(hm, self.options.k, self._peak_buffers[hm.shape])

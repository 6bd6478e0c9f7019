"""One captured CUDA graph: a `FramePipeline` for a batch of frames on one canvas, replayed per call.

The graph owns static device buffers (the uint8 canvas (B, H, W, 3) in, each frame's source matrix
(B, 2, 3), own size (B, 2) and sample bounds (B, 4) in, the `FixedDetections` out, packed into one
float32 (B, K, C) tensor) and pinned host copies of them. The warp is data: frames of any sizes up to
the canvas share one graph. Per call: frames, matrices, sizes and bounds into the pinned buffers, async
H2D copies (per frame, only its own rows), replay, one D2H of the K rows per image, one event wait. The
computation itself lives in `frame_pipeline.py` (plain torch, testable on any device); this file only
allocates, warms up, captures and replays.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from centernet.detections import FixedDetections
from centernet.inference.frame_canvas import FrameWarps, fill_canvas, fits
from centernet.inference.frame_pipeline import FramePipeline

WARMUP_RUNS = 3  # cuDNN autotuning, lazy allocations and kernel compilation stay out of the graph


class CudaGraphPipeline:
    """`pipeline` captured for `batch` frames on a canvas of `canvas_hw` on its (CUDA) device."""

    def __init__(self, pipeline: FramePipeline, canvas_hw: tuple[int, int], batch: int):
        device = pipeline.device
        h, w = canvas_hw
        self.pipeline, self.batch, self.canvas_hw = pipeline, batch, (h, w)
        self.host_frames = torch.zeros(batch, h, w, 3, dtype=torch.uint8).pin_memory()
        self.host_matrices = torch.zeros(batch, 2, 3, dtype=torch.float32).pin_memory()
        self.host_sizes = torch.zeros(batch, 2, dtype=torch.int32).pin_memory()
        self.host_bounds = torch.zeros(batch, 4, dtype=torch.float32).pin_memory()
        self.frames = torch.zeros(batch, h, w, 3, dtype=torch.uint8, device=device)
        self.matrices = torch.zeros(batch, 2, 3, dtype=torch.float32, device=device)
        self.sizes = torch.zeros(batch, 2, dtype=torch.int32, device=device)
        self.bounds = torch.zeros(batch, 4, dtype=torch.float32, device=device)

        def step():
            return pack_rows(pipeline(self.frames, self.matrices, self.sizes, self.bounds))

        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(WARMUP_RUNS):  # pack_rows too: its kernels load here, not inside the capture
                step()
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode():
            self.packed, self.layout = capture(self.graph, side, step)
        self.host_packed = torch.empty(self.packed.shape, dtype=self.packed.dtype).pin_memory()
        self.done = torch.cuda.Event()

    def run(self, frames: list[np.ndarray], warps: FrameWarps) -> FixedDetections:
        """`batch` BGR uint8 frames that fit the canvas, with their warps -> detections (B, K, ...) on the host."""
        if len(frames) != self.batch:
            raise ValueError(f"this graph was captured for {self.batch} frames, got {len(frames)}")
        if not fits(self.canvas_hw, [f.shape[:2] for f in frames]):
            raise ValueError(f"frames of {sorted({f.shape[:2] for f in frames})} do not fit this graph's "
                             f"{self.canvas_hw} canvas")
        fill_canvas(self.host_frames.numpy(), frames)
        self.host_matrices.numpy()[...] = warps.matrices
        self.host_sizes.numpy()[...] = warps.sizes
        self.host_bounds.numpy()[...] = warps.bounds
        for i, f in enumerate(frames):  # a frame's own rows (whole rows of the slot: one contiguous copy)
            self.frames[i, :f.shape[0]].copy_(self.host_frames[i, :f.shape[0]], non_blocking=True)
        self.matrices.copy_(self.host_matrices, non_blocking=True)
        self.sizes.copy_(self.host_sizes, non_blocking=True)
        self.bounds.copy_(self.host_bounds, non_blocking=True)
        self.graph.replay()
        self.host_packed.copy_(self.packed, non_blocking=True)
        self.done.record()
        self.done.synchronize()
        return unpack_rows(self.host_packed.clone(), self.layout)  # the pinned buffer is reused by the next call


def capture(graph: torch.cuda.CUDAGraph, stream: torch.cuda.Stream, fn):
    """`fn()` captured into `graph` on `stream`; returns what fn returned.

    Unlike `torch.cuda.graph`: the capture errors only for work of this thread ("thread_local": a
    model loading in another thread may allocate meanwhile); the thread is back on its own stream
    whatever fails (`torch.cuda.graph` leaves it on the capture stream when `capture_end` raises);
    and when fn fails, its error is raised, not the "capture invalidated" that ending the capture
    then reports (attached as a note)."""
    torch.cuda.synchronize(stream.device)
    with torch.cuda.stream(stream):
        graph.capture_begin(capture_error_mode="thread_local")
        try:
            out = fn()
        except BaseException as first:
            try:
                graph.capture_end()
            except Exception as end_error:
                first.add_note(f"ending the failed capture then raised {type(end_error).__name__}: {end_error}")
            raise
        graph.capture_end()
    return out


def pack_rows(dets: FixedDetections) -> tuple[torch.Tensor, list[tuple[str, tuple, torch.dtype]]]:
    """Every field side by side in one float32 (B, K, C) tensor, so one copy brings a batch back.

    Class indices are exact in float32 (below 2**24). Returns the tensor and its column layout."""
    columns, layout = [], []
    for name, t in dets.tensors().items():
        columns.append(t.reshape(*t.shape[:2], -1).float())
        layout.append((name, tuple(t.shape[2:]), t.dtype))
    return torch.cat(columns, -1), layout


def unpack_rows(packed: torch.Tensor, layout: list[tuple[str, tuple, torch.dtype]]) -> FixedDetections:
    """The inverse of `pack_rows`."""
    fields, start = {}, 0
    b, k = packed.shape[:2]
    for name, tail, dtype in layout:
        width = math.prod(tail)
        fields[name] = packed[:, :, start:start + width].reshape(b, k, *tail).to(dtype).contiguous()
        start += width
    return FixedDetections(**fields)

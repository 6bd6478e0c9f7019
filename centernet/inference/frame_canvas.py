"""Frames of different sizes in one batch: each frame's warp planned on the host, the frames laid into
one uint8 canvas (B, H, W, 3), frame i in the top-left corner of slot i.

The frame path (`frame_pipeline.py`, and the CUDA graph that captures it, `cuda_graph.py`) reads the
warps as data: a (B, 2, 3) source matrix, a (B, 2) own size and (B, 4) sample bounds per frame, filled
before each run. So a captured graph depends on the canvas and the batch only, not on the frames'
sizes: streams of different sizes share one replay. The canvas an engine keeps grows to hold the largest frame it has
seen (sides rounded up, so that slowly growing sizes re-capture rarely), up to MAX_CANVAS; a frame
beyond that runs on a canvas of its own size (captured separately).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from centernet.geometry.transforms import InputTransform, PreprocessSpec, plan_task_transform
from centernet.inference.gpu_preprocess import source_matrices, warp_bounds

CANVAS_STEP = 64           # canvas sides are multiples of this
MAX_CANVAS = (2176, 3840)  # (h, w): 4K UHD; the shared canvas never grows beyond it


@dataclass(frozen=True)
class FrameWarps:
    """Each frame's warp: what the pipeline reads per frame, and the transforms back to image pixels."""

    transforms: tuple[InputTransform, ...]  # frame i -> network input (and back, for its detections)
    matrices: np.ndarray                    # (B, 2, 3) float32: input pixel -> source pixel
    sizes: np.ndarray                       # (B, 2) int32: each frame's own (h, w)
    bounds: np.ndarray                      # (B, 4) float32: x0, y0, x1, y1 its samples are clamped to


def plan_warps(task: str, spec: PreprocessSpec, frame_sizes: list[tuple[int, int]]) -> FrameWarps:
    """The warps of frames of these (h, w) sizes; every one must map to the same network input size
    (a fixed input size: not keep_res in affine mode, where the input follows each frame)."""
    transforms = tuple(plan_task_transform(task, spec, tuple(hw)) for hw in frame_sizes)
    inputs = {tf.input_size for tf in transforms}
    if len(inputs) != 1:
        raise ValueError(f"frames of different sizes need a fixed network input size, got {sorted(inputs)} "
                         f"(keep_res follows each frame): run them one size at a time")
    sizes = np.asarray([tuple(hw) for hw in frame_sizes], dtype=np.int32).reshape(-1, 2)
    return FrameWarps(transforms, source_matrices(transforms, spec), sizes, warp_bounds(transforms, spec))


def rounded_canvas(frame_sizes, current: tuple[int, int] | None = None) -> tuple[int, int]:
    """The smallest canvas holding `current` and every frame size, sides rounded up to CANVAS_STEP."""
    h = max([hw[0] for hw in frame_sizes] + [current[0] if current else 0])
    w = max([hw[1] for hw in frame_sizes] + [current[1] if current else 0])
    return -(-h // CANVAS_STEP) * CANVAS_STEP, -(-w // CANVAS_STEP) * CANVAS_STEP


def fits(canvas: tuple[int, int] | None, frame_sizes) -> bool:
    return canvas is not None and all(h <= canvas[0] and w <= canvas[1] for h, w in frame_sizes)


def within_bound(canvas: tuple[int, int]) -> bool:
    return canvas[0] <= MAX_CANVAS[0] and canvas[1] <= MAX_CANVAS[1]


def fill_canvas(canvas: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
    """Frame i into the top-left corner of canvas[i] (B, H, W, 3). What lies outside a frame's own size
    is left as it was: the warp reads the border value there, whatever the canvas holds."""
    for slot, f in zip(canvas, frames):
        slot[:f.shape[0], :f.shape[1]] = f
    return canvas


def frame_canvas(frames: list[np.ndarray]) -> np.ndarray:
    """A new canvas just large enough for these frames, filled (the eager path's; no capture to share)."""
    if len({f.shape for f in frames}) == 1:
        return np.stack(frames)
    h, w = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    return fill_canvas(np.zeros((len(frames), h, w, 3), np.uint8), frames)

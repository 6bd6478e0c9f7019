"""Fused uint8 frames -> normalised NCHW input (preprocess.cu); reference: centernet.inference.gpu_preprocess.

The frames sit in one canvas (B, ch, cw, 3), each in the top-left corner of its slot, with its own source
matrix (B, 2, 3), size (B, 2) and sample bounds (B, 4): the warp is data read at launch, so frames of
different sizes share a launch and a captured graph refills those buffers before each replay.
"""
from __future__ import annotations

import numpy as np
import torch

from kernels.runtime import as_cupy, current_stream, module


# `struct WarpParams` of preprocess.cu (whose static_asserts pin the same offsets). CuPy passes a
# one-element numpy array by value as a kernel argument; it refuses ctypes structures.
WARP_PARAMS_DTYPE = np.dtype([("scale", "<f4"), ("mean", "<f4", (3,)), ("std", "<f4", (3,)),
                              ("rgb", "<i4"), ("truncate", "<i4")], align=True)


def warp_params(pixel_scale: float, mean, std, rgb: bool, truncate: bool) -> np.ndarray:
    """The kernel's per-launch constants as a one-element structured array (passed by value)."""
    p = np.zeros(1, WARP_PARAMS_DTYPE)
    p["scale"], p["rgb"], p["truncate"] = np.float32(pixel_scale), int(rgb), int(truncate)
    p["mean"][0], p["std"][0] = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return p


def _refuse(name: str, t, want: str) -> None:
    raise ValueError(f"{name} must be {want}, got {t.dtype} {tuple(t.shape)} strides {t.stride()}")


def warp_normalize(frames, matrices, sizes, bounds, out, params: np.ndarray) -> None:
    """frames: (B, ch, cw, 3) uint8 canvas; matrices: (B, 2, 3) float32 input pixel -> source pixel;
    sizes: (B, 2) int32 each frame's own (h, w) (clipped to the canvas); bounds: (B, 4) float32 the
    x0, y0, x1, y1 each source coordinate is clamped to (`gpu_preprocess.source_bounds`); out:
    (B, 3, h, w) float32 or float16. All CUDA tensors.

    All must be contiguous: the kernel indexes raw memory (a RawKernel ignores strides), so a
    strided `out` (e.g. `torch.empty_like` of the torch reference, whose NCHW is a view of HWC
    memory) would be filled in the wrong order without any error."""
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[3] != 3 or not frames.is_contiguous():
        _refuse("frames", frames, "a contiguous (B, H, W, 3) uint8 tensor")
    b = frames.shape[0]
    if matrices.dtype != torch.float32 or tuple(matrices.shape) != (b, 2, 3) or not matrices.is_contiguous():
        _refuse("matrices", matrices, f"a contiguous ({b}, 2, 3) float32 tensor")
    if sizes.dtype != torch.int32 or tuple(sizes.shape) != (b, 2) or not sizes.is_contiguous():
        _refuse("sizes", sizes, f"a contiguous ({b}, 2) int32 tensor")
    if bounds.dtype != torch.float32 or tuple(bounds.shape) != (b, 4) or not bounds.is_contiguous():
        _refuse("bounds", bounds, f"a contiguous ({b}, 4) float32 tensor")
    if (out.dtype not in (torch.float32, torch.float16) or out.dim() != 4 or out.shape[:2] != (b, 3)
            or not out.is_contiguous()):
        _refuse("out", out, "a contiguous (B, 3, h, w) float32 or float16 tensor")
    import cupy
    ch, cw = frames.shape[1], frames.shape[2]
    oh, ow = out.shape[2], out.shape[3]
    name = "warp_normalize_f16" if out.dtype == torch.float16 else "warp_normalize_f32"
    kernel = module("preprocess.cu").get_function(name)
    block = (32, 8, 1)
    grid = ((ow + 31) // 32, (oh + 7) // 8, b)
    with current_stream():
        kernel(grid, block, (as_cupy(frames), cupy.int32(ch), cupy.int32(cw), as_cupy(matrices), as_cupy(sizes),
                             as_cupy(bounds), as_cupy(out), cupy.int32(oh), cupy.int32(ow), params))

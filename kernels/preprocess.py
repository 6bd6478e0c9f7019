"""Fused uint8 frame -> normalised NCHW input (preprocess.cu); reference: centernet.inference.gpu_preprocess."""
from __future__ import annotations

import numpy as np
import torch

from kernels.runtime import as_cupy, current_stream, module


# `struct WarpParams` of preprocess.cu (whose static_asserts pin the same offsets). CuPy passes a
# one-element numpy array by value as a kernel argument; it refuses ctypes structures.
WARP_PARAMS_DTYPE = np.dtype([("m", "<f4", (6,)), ("scale", "<f4"), ("mean", "<f4", (3,)), ("std", "<f4", (3,)),
                              ("rgb", "<i4"), ("truncate", "<i4")], align=True)


def warp_params(source_matrix: np.ndarray, pixel_scale: float, mean, std, rgb: bool, truncate: bool) -> np.ndarray:
    """The kernel's parameters as a one-element structured array (passed by value)."""
    p = np.zeros(1, WARP_PARAMS_DTYPE)
    p["m"][0] = np.asarray(source_matrix, np.float32).reshape(6)
    p["scale"], p["rgb"], p["truncate"] = np.float32(pixel_scale), int(rgb), int(truncate)
    p["mean"][0], p["std"][0] = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return p


def warp_normalize(frames, out, params: np.ndarray) -> None:
    """frames: (B, H, W, 3) uint8 CUDA tensor; out: (B, 3, h, w) float32 or float16 CUDA tensor.

    Both must be contiguous: the kernel indexes raw memory (a RawKernel ignores strides), so a
    strided `out` (e.g. `torch.empty_like` of the torch reference, whose NCHW is a view of HWC
    memory) would be filled in the wrong order without any error."""
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[3] != 3 or not frames.is_contiguous():
        raise ValueError(f"frames must be a contiguous (B, H, W, 3) uint8 tensor, got {frames.dtype} "
                         f"{tuple(frames.shape)} strides {frames.stride()}")
    if (out.dtype not in (torch.float32, torch.float16) or out.dim() != 4 or out.shape[:2] != (frames.shape[0], 3)
            or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous (B, 3, h, w) float32 or float16 tensor, got {out.dtype} "
                         f"{tuple(out.shape)} strides {out.stride()}")
    import cupy
    b, fh, fw, _ = frames.shape
    oh, ow = out.shape[2], out.shape[3]
    name = "warp_normalize_f16" if out.dtype == torch.float16 else "warp_normalize_f32"
    kernel = module("preprocess.cu").get_function(name)
    block = (32, 8, 1)
    grid = ((ow + 31) // 32, (oh + 7) // 8, b)
    with current_stream():
        kernel(grid, block, (as_cupy(frames), cupy.int32(fh), cupy.int32(fw), as_cupy(out),
                             cupy.int32(oh), cupy.int32(ow), params))

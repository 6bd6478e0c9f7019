"""Fused uint8 frame -> normalised NCHW input (preprocess.cu); reference: centernet.gpu_preprocess."""
from __future__ import annotations

import ctypes

import numpy as np

from .runtime import as_cupy, current_stream, module


class WarpParams(ctypes.Structure):
    """Mirror of `struct WarpParams` in preprocess.cu, passed by value."""

    _fields_ = [("m", ctypes.c_float * 6), ("scale", ctypes.c_float), ("mean", ctypes.c_float * 3),
                ("std", ctypes.c_float * 3), ("rgb", ctypes.c_int), ("truncate", ctypes.c_int)]


def warp_params(source_matrix: np.ndarray, pixel_scale: float, mean, std, rgb: bool, truncate: bool) -> WarpParams:
    p = WarpParams()
    p.m[:] = [float(v) for v in np.asarray(source_matrix, np.float32).reshape(6)]
    p.scale, p.rgb, p.truncate = float(np.float32(pixel_scale)), int(rgb), int(truncate)
    p.mean[:] = [float(v) for v in mean]
    p.std[:] = [float(v) for v in std]
    return p


def warp_normalize(frames, out, params: WarpParams) -> None:
    """frames: (B, H, W, 3) uint8 CUDA tensor; out: (B, 3, h, w) float32 or float16 CUDA tensor."""
    import cupy
    import torch
    b, fh, fw, _ = frames.shape
    oh, ow = out.shape[2], out.shape[3]
    name = "warp_normalize_f16" if out.dtype == torch.float16 else "warp_normalize_f32"
    kernel = module("preprocess.cu").get_function(name)
    block = (32, 8, 1)
    grid = ((ow + 31) // 32, (oh + 7) // 8, b)
    with current_stream():
        kernel(grid, block, (as_cupy(frames), cupy.int32(fh), cupy.int32(fw), as_cupy(out),
                             cupy.int32(oh), cupy.int32(ow), params))

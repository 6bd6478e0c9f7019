"""Head values at the peaks (gather.cu): (B, C, H, W) map + (B, K) flat pixels -> (B, K, C) float32.

Reference: `centernet.inference.decode.gather_at`. Reads NCHW or channels_last memory in place.
"""
from __future__ import annotations

import torch

from kernels.runtime import as_cupy, current_stream, module

THREADS = 256


def gather_peaks(feature, pixel, out=None):
    """feature (B, C, H, W) float32/float16 CUDA tensor, pixel (B, K) int64 -> (B, K, C) float32."""
    import cupy
    b, c, h, w = feature.shape
    k = pixel.shape[1]
    if feature.is_contiguous():
        channels_last = 0
    elif feature.is_contiguous(memory_format=torch.channels_last):
        channels_last = 1
    else:
        feature, channels_last = feature.contiguous(), 0
    if feature.dtype not in (torch.float32, torch.float16):
        feature = feature.float()
    if out is None:
        out = torch.empty(b, k, c, device=feature.device, dtype=torch.float32)
    name = "gather_peaks_f16" if feature.dtype == torch.float16 else "gather_peaks_f32"
    total = b * k * c
    with current_stream():
        module("gather.cu").get_function(name)(
            ((total + THREADS - 1) // THREADS, 1, 1), (THREADS, 1, 1),
            (as_cupy(feature), as_cupy(pixel.contiguous()), cupy.int32(b), cupy.int32(c), cupy.int32(h * w),
             cupy.int32(k), cupy.int32(channels_last), as_cupy(out)))
    return out

"""Fused sigmoid + 3x3 peak test + per-block top-K (peaks.cu), then a global top-K in torch.

Reference: `centernet.inference.decode.peak_mask_scores` + `topk_peaks` on sigmoid(hm).
"""
from __future__ import annotations

import torch

from kernels.runtime import as_cupy, current_stream, module

TILE = 1024  # heatmap elements a block sorts: also the most peaks one block (and so this kernel) returns


def supports(k: int, dtype) -> bool:
    """Whether `peak_topk` can serve K peaks of logits of this dtype (float32 only: the kernel reads
    float*; at most TILE, the candidates one block keeps). Otherwise decode with torch."""
    return 0 < k <= TILE and dtype == torch.float32


def candidate_buffers(batch: int, c: int, h: int, w: int, k: int, device):
    """Pre-allocated candidate buffers (allocate outside CUDA-graph capture)."""
    tiles = (c * h * w + TILE - 1) // TILE
    return (torch.empty(batch, tiles * k, device=device, dtype=torch.float32),
            torch.empty(batch, tiles * k, device=device, dtype=torch.int64))


def peak_topk(hm_logits, k: int = 100, buffers=None):
    """(B, C, H, W) float32 logits -> scores, classes, ys, xs, flat pixel index, each (B, min(K, C*H*W)).

    Raises ValueError for what the kernel cannot serve (see `supports`) instead of returning fewer
    rows or reading half floats as floats."""
    import cupy
    if not supports(k, hm_logits.dtype):
        raise ValueError(f"peak_topk serves 1..{TILE} peaks of float32 logits, got K={k} of {hm_logits.dtype}: "
                         "decode with torch (centernet.inference.decode.topk_peaks)")
    b, c, h, w = hm_logits.shape
    k = min(k, c * h * w, TILE)
    scores_buf, index_buf = buffers or candidate_buffers(b, c, h, w, k, hm_logits.device)
    tiles = (c * h * w + TILE - 1) // TILE
    kernel = module("peaks.cu").get_function("peak_candidates")
    with current_stream():
        kernel((tiles, b, 1), (TILE // 2, 1, 1), (as_cupy(hm_logits.contiguous()), cupy.int32(c), cupy.int32(h),
                                                 cupy.int32(w), cupy.int32(k), as_cupy(scores_buf), as_cupy(index_buf)))
    scores, pick = torch.topk(scores_buf, k)
    index = torch.gather(index_buf, 1, pick)
    classes = torch.div(index, h * w, rounding_mode="floor")
    pixel = index - classes * (h * w)
    ys = torch.div(pixel, w, rounding_mode="floor")
    return scores, classes, ys, pixel - ys * w, pixel

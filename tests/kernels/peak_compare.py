"""Comparing a top-K of peaks with the torch reference when scores tie or differ in the last bit.

The kernel breaks ties by ascending index, torch.topk in no promised order, and the kernel's sigmoid
(expf) may differ from torch's by an ulp: so neither the order of tied rows nor which of several
pixels tied at the K-th score is picked can be compared exactly. What must hold: the same sorted
scores, every picked pixel a reference peak of that score, no pixel picked twice, and every peak
scoring above the K-th score picked.
"""
from __future__ import annotations

import torch


def top_peak_problems(scores: torch.Tensor, index: torch.Tensor, ref_peak_scores: torch.Tensor,
                      atol: float = 1e-6) -> list[str]:
    """Problems (none: the same top K) of one image's (K,) scores and flat indices against the
    reference's per-pixel peak scores (any shape, 0 where no peak)."""
    ref = ref_peak_scores.flatten().float().cpu()
    scores, index = scores.float().cpu(), index.long().cpu()
    k = scores.numel()
    want = ref.topk(k).values
    problems = []
    if not torch.allclose(scores, want, atol=atol, rtol=0):
        problems.append(f"scores differ from the reference's top {k} by {float((scores - want).abs().max()):.3g}")
    if bool((scores[1:] > scores[:-1] + atol).any()):
        problems.append("scores are not in descending order")
    if index.unique().numel() != k:
        problems.append("a pixel is picked twice")
    if not torch.allclose(ref[index], scores, atol=atol, rtol=0):
        problems.append("a picked pixel is not a reference peak of its score")
    above_cut = set((ref > want[-1] + atol).nonzero().flatten().tolist())
    if not above_cut <= set(index.tolist()):
        problems.append(f"{len(above_cut - set(index.tolist()))} peak(s) above the K-th score were not picked")
    return problems

"""Input-size checks shared by the backbones that need sides divisible by their total stride.

Kept out of `forward` bodies' control flow for torch.fx: each backbone module registers
`check_input_multiple` with `torch.fx.wrap`, so tracing (batch-norm folding) records a call
instead of failing on a shape comparison.
"""
from __future__ import annotations

from torch import Tensor


def check_input_multiple(x: Tensor, multiple: int, arch: str) -> None:
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"{arch} needs input sides that are multiples of {multiple}, got {h}x{w}: pad the input")

"""Per-layer timing of the deformable convolution: torchvision's CPU kernel against the gathered
formulation (fp32 and bf16) at dla_34's three DCN sizes, with the fp32 difference.

    python tools/bench_deform_conv.py [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torchvision.ops import deform_conv2d

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from centernet.models.backbones.dcn import gathered_deform_conv2d  # noqa: E402

SIZES = ((64, 128), (128, 64), (256, 32))  # channels, map side: dla_34's up-sampling DCNs at 512x512


def median_ms(fn, runs: int = 7, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    conv = ((1, 1), (1, 1), (1, 1))
    with torch.inference_mode():
        for c, side in SIZES:
            x = torch.randn(1, c, side, side, generator=gen).contiguous(memory_format=torch.channels_last)
            offset = torch.randn(1, 18, side, side, generator=gen) * 2
            mask = torch.rand(1, 9, side, side, generator=gen)
            weight, bias = torch.randn(c, c, 3, 3, generator=gen) * 0.05, torch.randn(c, generator=gen)
            ref = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
            err = (gathered_deform_conv2d(x, offset, mask, weight, bias, *conv) - ref).abs().max().item()
            xb, wb, bb = x.bfloat16(), weight.bfloat16(), bias.bfloat16()
            tv = median_ms(lambda: deform_conv2d(x, offset, weight, bias, padding=1, mask=mask))
            fp32 = median_ms(lambda: gathered_deform_conv2d(x, offset, mask, weight, bias, *conv))
            bf16 = median_ms(lambda: gathered_deform_conv2d(xb, offset, mask, wb, bb, *conv))
            print(f"{c}ch {side}x{side}: torchvision {tv:.1f} ms, gathered fp32 {fp32:.1f} ms ({tv / fp32:.1f}x, "
                  f"max diff {err:.1e}), bf16 {bf16:.1f} ms ({tv / bf16:.1f}x)  [{args.threads} threads]")


if __name__ == "__main__":
    main()

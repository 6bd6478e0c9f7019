"""`bench --gpu-check`: every CUDA check and the GPU benchmarks in one run, one JSON report.

Checks: the pre-processing kernel and its torch reference against OpenCV; the peak kernel against
the torch decode; CUDA graph against eager; fp16 against fp32 on the default models (real weights).
Then benchmarks of the engine against the plain fp32 eager path for res_18, resdcn_18, dla_34 and
hourglass, batched res_18, and the peak kernel against the torch decode. Meant to finish in under
8 minutes on one H100.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError


def _timeit(fn, n=50, warm=5) -> float:
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def check_preprocess(frames) -> dict:
    from kernels.preprocess import warp_normalize, warp_params
    from .gpu_preprocess import preprocess_on_device, source_matrix
    from .transforms import PreprocessSpec, plan_transform, preprocess
    specs = {"affine": PreprocessSpec(),
             "stretch_rgb": PreprocessSpec(resize="stretch", channel_order="rgb", pixel_scale=1.0, mean=(0, 0, 0),
                                           std=(1, 1, 1)),
             "pad_square_trunc": PreprocessSpec(resize="pad_square", input_size=(384, 384), channel_order="rgb",
                                                pixel_scale=1.0, mean=(0, 0, 0), std=(1, 1, 1), truncate_pixels=True)}
    out = {}
    for name, spec in specs.items():
        kernel_vs_torch, grey_mean, grey_max = 0.0, 0.0, 0.0
        for f in frames:
            host, tf = preprocess(f, spec)
            dev_frame = torch.from_numpy(f).cuda()
            ref = preprocess_on_device(dev_frame, tf, spec)
            buf = torch.empty_like(ref)
            warp_normalize(dev_frame[None].contiguous(), buf, warp_params(source_matrix(tf, spec), spec.pixel_scale,
                                                                          spec.mean, spec.std,
                                                                          spec.channel_order == "rgb",
                                                                          spec.truncate_pixels))
            kernel_vs_torch = max(kernel_vs_torch, float((buf - ref).abs().max()))
            std = torch.tensor(spec.std, device="cuda").view(1, 3, 1, 1)
            grey = ((buf - host.cuda()) * std / spec.pixel_scale).abs()
            grey_mean, grey_max = max(grey_mean, float(grey.mean())), max(grey_max, float(grey.max()))
        out[name] = {"kernel_vs_torch_max": kernel_vs_torch, "vs_opencv_grey_mean": grey_mean,
                     "vs_opencv_grey_max": grey_max,
                     "pass": kernel_vs_torch <= 1e-3 and grey_mean <= 0.5 and grey_max <= 4}
    return out


def check_peaks() -> dict:
    from kernels.peaks import peak_topk
    from .decode import peak_mask_scores, topk_peaks
    gen = torch.Generator(device="cuda").manual_seed(0)
    cases = {"random_80x128x128": torch.randn(2, 80, 128, 128, device="cuda", generator=gen) * 2 - 3,
             "random_1x96x320": torch.randn(1, 3, 96, 320, device="cuda", generator=gen)}
    out = {}
    for name, hm in cases.items():
        ks, kc, ky, kx, _ = peak_topk(hm, 100)
        rs, rc, ry, rx, _ = topk_peaks(peak_mask_scores(torch.sigmoid(hm)), 100)
        same = all({(int(c), int(y), int(x)) for c, y, x in zip(kc[b], ky[b], kx[b])} ==
                   {(int(c), int(y), int(x)) for c, y, x in zip(rc[b], ry[b], rx[b])} for b in range(hm.shape[0]))
        diff = float((ks - rs).abs().max())
        t_kernel = _timeit(lambda: peak_topk(hm[:1], 100))
        t_torch = _timeit(lambda: topk_peaks(peak_mask_scores(torch.sigmoid(hm[:1])), 100))
        out[name] = {"same_peaks": same, "score_max_diff": diff, "kernel_ms": t_kernel, "torch_ms": t_torch,
                     "speedup": t_torch / t_kernel, "pass": same and diff <= 1e-3}
    return out


def check_default_models(frames) -> dict:
    """fp16 vs fp32 and graph vs eager on the shipped default model (real weights)."""
    from .bench import agreement
    from .checkpoint import load_checkpoint
    from .decode import ctdet_decode_batch
    from .detections import Detections
    from .engine import Engine
    from .transforms import preprocess
    from .zoo import default_weights
    model, info = load_checkpoint(default_weights("ctdet"))
    spec, box_mode = info.preprocess, info.decode.get("box_mode", "size")
    eager32 = Engine(model, spec, torch.device("cuda"), "fp32", "eager", box_mode=box_mode)
    graph16 = Engine(model, spec, torch.device("cuda"), "fp16", "graph", box_mode=box_mode)
    graph32 = Engine(model, spec, torch.device("cuda"), "fp32", "graph", box_mode=box_mode)
    eager, g16, g32 = [], [], []
    with torch.inference_mode():
        for f in frames:
            x, _ = preprocess(f, spec)
            h = eager32.forward(x)
            eager.append(ctdet_decode_batch(h["hm"], h["wh"], h.get("reg"), box_mode=box_mode)[0].to("cpu"))
            for eng, acc in ((graph16, g16), (graph32, g32)):
                s, c, b, _ = eng.run_graph([f])[0]
                acc.append(Detections(b[s > 0], s[s > 0], c[s > 0]))
    fp16 = agreement(eager, g16)
    graph = agreement(eager, g32)
    return {"fp16_vs_fp32_matched": fp16, "graph_fp32_vs_eager_matched": graph,
            "pass": fp16 >= 0.99 and graph >= 0.99}


def run_gpu_check(report_path: Path) -> int:
    if not torch.cuda.is_available():
        raise ConfigError("bench --gpu-check needs a CUDA GPU; none is available here")
    from .bench import bench, bench_frames, write_json
    from kernels.runtime import cupy_available
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cupy": cupy_available(),
              "date": time.strftime("%Y-%m-%d"), "checks": {}, "benchmarks": {}}
    frames = bench_frames(6)
    steps = [("preprocess_kernel", lambda: check_preprocess(frames)), ("peak_kernel", check_peaks),
             ("default_model_fp16_graph", lambda: check_default_models(frames))]
    for name, fn in steps:
        t = time.time()
        try:
            report["checks"][name] = fn()
        except Exception as e:
            report["checks"][name] = {"pass": False, "error": f"{type(e).__name__}: {e}",
                                      "traceback": traceback.format_exc()[-2000:]}
        print(f"check {name}: {report['checks'][name]} ({time.time() - t:.0f}s)", flush=True)
        write_json(report, report_path)
    for arch, frames_n in (("res_18", 300), ("resdcn_18", 300), ("dla_34", 200), ("hourglass", 100)):
        try:
            report["benchmarks"][arch] = bench(None, arch, "ctdet", 512, "fp16", "auto", frames_n, 20, "cuda")
        except Exception as e:
            report["benchmarks"][arch] = {"error": f"{type(e).__name__}: {e}"}
        print(f"bench {arch}: {report['benchmarks'][arch].get('engine', report['benchmarks'][arch])}", flush=True)
        write_json(report, report_path)
    ok = all(_passed(v) for v in report["checks"].values())
    report["all_checks_pass"] = ok
    write_json(report, report_path)
    print(f"{'all checks pass' if ok else 'SOME CHECKS FAILED'}; report in {report_path}")
    return 0 if ok else 1


def _passed(check: dict) -> bool:
    if "pass" in check:
        return bool(check["pass"])
    return all(_passed(v) for v in check.values() if isinstance(v, dict))

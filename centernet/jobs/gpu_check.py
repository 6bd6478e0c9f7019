"""`bench --gpu-check`: every CUDA check and the GPU benchmarks in one run, one JSON report.

Checks: the pre-processing kernel and its torch reference against OpenCV; the peak kernel against
the torch decode; CUDA graph against eager; fp16 against fp32 on the default models (real weights);
graph against eager through the Detector for ctdet with flip, multi_pose (with and without flip) and
ddd, in batches. Then benchmarks of the engine against the plain fp32 eager path for res_18,
resdcn_18, dla_34 and hourglass, the batched res_18 graph (32 frames a replay, frames/s), and the
peak kernel against the torch decode. Meant to finish in under 8 minutes on one H100.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

import numpy as np
import torch

from centernet.errors import ConfigError


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
    from centernet.inference.gpu_preprocess import preprocess_on_device, source_matrix
    from centernet.inference.transforms import PreprocessSpec, preprocess
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
            buf = torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)  # contiguous (ref: a view of HWC)
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
    from centernet.inference.decode import peak_mask_scores, topk_peaks
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


def check_gather() -> dict:
    """The gather kernel against `gather_at` on both layouts and dtypes: exactly equal."""
    from kernels.gather import gather_peaks
    from centernet.inference.decode import gather_at
    gen = torch.Generator(device="cuda").manual_seed(1)
    pixel = torch.randint(0, 128 * 128, (2, 100), device="cuda", generator=gen)
    out = {}
    for dtype in (torch.float32, torch.float16):
        for layout in (torch.contiguous_format, torch.channels_last):
            f = torch.randn(2, 34, 128, 128, device="cuda", generator=gen).to(dtype).contiguous(memory_format=layout)
            name = f"{str(dtype).split('.')[-1]}_{'nhwc' if layout == torch.channels_last else 'nchw'}"
            out[name] = {"pass": bool(torch.equal(gather_peaks(f, pixel), gather_at(f, pixel).float()))}
    return out


def check_default_models(frames) -> dict:
    """fp16 vs fp32 and graph vs eager on the shipped default model (real weights)."""
    from centernet.jobs.bench import agreement
    from centernet.models.checkpoint import load_checkpoint
    from centernet.inference.decode import ctdet_decode_batch
    from centernet.detections import Detections
    from centernet.inference.engine import Engine
    from centernet.inference.transforms import preprocess
    from centernet.models.zoo import default_weights
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


def task_model(task: str, arch: str, seed: int = 0):
    """(model, info) with random weights, the heatmap bias raised so that detections score about 0.6
    and the sizes made positive: graph-vs-eager comparisons then have boxes above the 0.3 threshold
    (no CenterNet weights ship for these tasks: the default multi_pose model, MoveNet, stays eager)."""
    from centernet.models.checkpoint import info_for_original
    from centernet.models.build import build_model
    torch.manual_seed(seed)
    model = build_model(arch, task)
    state = model.state_dict()  # shares the parameters' memory

    def last(head, kind):
        return state[[k for k in state if k.startswith(head + ".") and k.endswith(kind)][-1]]

    last("hm", ".bias").add_(2.5)
    last("wh", ".weight").mul_(0.1)  # sizes about 12 cells, never negative: boxes with an area to match by IoU
    last("wh", ".bias").fill_(12.0)
    return model.eval(), info_for_original(state, arch, task)


def compare_detections(eager: list, fast: list, task: str) -> dict:
    """Agreement both ways (`bench.agreement`: class, IoU >= 0.95, score within 0.02, above 0.3) and,
    on rows paired by best IoU, the largest joint distance (px) or depth difference (m)."""
    from torchvision.ops import box_iou
    from centernet.jobs.bench import agreement
    out = {"matched": agreement(eager, fast), "matched_reverse": agreement(fast, eager),
           "detections": sum(len(d.above(0.3)) for d in eager)}
    worst = 0.0
    for a, b in zip(eager, fast):
        a, b = a.above(0.3), b.above(0.28)
        if not len(a) or not len(b):
            continue
        j = box_iou(a.boxes.float(), b.boxes.float()).argmax(1)
        if task == "multi_pose":
            worst = max(worst, float((a.keypoints - b.keypoints[j]).norm(dim=-1).median(dim=1).values.max()))
        if task == "ddd":
            worst = max(worst, float((a.depth - b.depth[j]).abs().max()))
    if task in ("multi_pose", "ddd"):
        out["joint_px_median_max" if task == "multi_pose" else "depth_m_max"] = worst
    out["pass"] = out["matched"] >= 0.97 and out["matched_reverse"] >= 0.97
    return out


GRAPH_CASES = (("ctdet", "default", True), ("multi_pose", "dla_34", False), ("multi_pose", "dla_34", True),
               ("ddd", "dla_34", False))


def check_graph_tasks(frames, device: str = "cuda", fast_engine: str = "graph", cases=GRAPH_CASES,
                      input_size=None, batch: int = 4) -> dict:
    """Graph vs eager through the Detector (fp32 both), `batch` frames a call, for every task and flip.

    ctdet runs the shipped default model (real weights; `arch` "default"), the others `task_model`.
    ddd frames are resized to KITTI's 1242x375. `fast_engine` "eager" runs the same code on a CPU."""
    import cv2
    from centernet.models.checkpoint import load_checkpoint
    from centernet.inference.detector import Detector
    from centernet.models.zoo import default_weights
    out = {}
    for task, arch, flip in cases:
        model, info = load_checkpoint(default_weights(task)) if arch == "default" else task_model(task, arch)
        clip = [cv2.resize(f, (1242, 375)) for f in frames] if task == "ddd" else list(frames)
        chunks = [clip[i:i + batch] for i in range(0, len(clip) - batch + 1, batch)]
        fast = Detector(model, info, device, flip=flip, engine=fast_engine, input_size=input_size)
        eager = Detector(model, info, device, flip=flip, engine="eager", input_size=input_size)
        got = [d for c in chunks for d in fast.detect_batch(c)]
        want = [d for c in chunks for d in eager.detect_batch(c)]
        name = f"{task}_{info.arch}{'_flip' if flip else ''}"
        stats = vars(fast.engine.stats)
        out[name] = {**compare_detections(want, got, task), "mode": fast.engine.mode, "batch": batch,
                     "captures": stats["captures"], "replays": stats["replays"]}
    return out


def bench_batched(frames, arch: str = "res_18", batch: int = 32, replays: int = 10, device: str = "cuda",
                  precision: str = "fp16", res: int = 512) -> dict:
    """Frames/s of `batch` same-size frames per `Engine.run_frames` (one graph replay on CUDA) with
    random weights (speed does not depend on them), against batch 1 on the same engine."""
    from centernet.inference.engine import Engine
    model, info = task_model("ctdet", arch)
    spec = info.preprocess.with_input_size(res, res)
    eng = Engine(model, spec, torch.device(device), precision, "auto", box_mode=info.decode.get("box_mode", "size"))
    clip = [frames[i % len(frames)] for i in range(batch)]
    result = {"mode": eng.mode, "precision": eng.precision, "batch": batch, "input": [res, res],
              "frame": list(clip[0].shape[:2])}
    for n, key in ((batch, "fps"), (1, "fps_batch_1")):
        for _ in range(2):  # capture and warm-up
            eng.run_frames(clip[:n])
        t = time.perf_counter()
        for _ in range(replays):
            eng.run_frames(clip[:n])  # returns host tensors: the time includes the D2H and its wait
        result[key] = round(n * replays / (time.perf_counter() - t), 1)
    result["batch_speedup"] = round(result["fps"] / result["fps_batch_1"], 2)
    result["captures"] = eng.stats.captures
    return result


def run_gpu_check(report_path: Path) -> int:
    if not torch.cuda.is_available():
        raise ConfigError("bench --gpu-check needs a CUDA GPU; none is available here")
    from centernet.jobs.bench import bench, bench_frames, write_json
    from kernels.runtime import cupy_available
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cupy": cupy_available(),
              "date": time.strftime("%Y-%m-%d"), "checks": {}, "benchmarks": {}}
    frames = bench_frames(6)
    steps = [("preprocess_kernel", lambda: check_preprocess(frames)), ("peak_kernel", check_peaks),
             ("gather_kernel", check_gather),
             ("default_model_fp16_graph", lambda: check_default_models(frames)),
             ("graph_vs_eager_tasks", lambda: check_graph_tasks(bench_frames(8)))]
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
    try:
        report["benchmarks"]["res_18_graph_batch_32"] = bench_batched(bench_frames(8))
    except Exception as e:
        report["benchmarks"]["res_18_graph_batch_32"] = {"error": f"{type(e).__name__}: {e}"}
    print(f"bench res_18 graph batch 32: {report['benchmarks']['res_18_graph_batch_32']}", flush=True)
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

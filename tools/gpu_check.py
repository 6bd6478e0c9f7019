"""`bench --gpu-check`: every CUDA check and the GPU benchmarks in one run, one JSON report.

    .venv/bin/python tools/gpu_check.py [--json gpu_check.json]    (what `main.py bench --gpu-check` runs)

A test harness, not part of the library: `main.py bench --gpu-check` starts it as a process, and
tests/tools/test_gpu_check.py runs its CPU-side parts.

Checks: the pre-processing kernel and its torch reference against OpenCV; the peak kernel against
the torch decode; CUDA graph against eager; fp16 against fp32 on the default models (real weights);
graph against eager through the Detector for ctdet with flip, multi_pose (with and without flip) and
ddd, in batches; frames of four sizes sharing one replay against each frame alone (and the kernel
on such a canvas against its reference). Then benchmarks of the engine against the plain fp32 eager
path for res_18, resdcn_18, dla_34 and hourglass, the batched res_18 graph (32 frames a replay, frames/s), and the
peak kernel against the torch decode. Also: the graph with the torch pre-processing and decode
(kernels off), fp16 graphs for multi_pose and ddd, a capture from a worker thread and with forward
hooks. Each step runs under a time limit (all of them within TOTAL_LIMIT_S, so that `pytest -m
cuda` fits beside it in 8 minutes), is synchronized before it counts, and gets one pass / fail /
skipped line; the JSON report is written after every step. CuPy absent: its steps are skipped.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torchvision
from torchvision.ops import box_iou

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from centernet.detections import Detections  # noqa: E402
from centernet.errors import CenterNetError, ConfigError  # noqa: E402
from centernet.inference.decode import ctdet_decode_batch, gather_at, peak_mask_scores, topk_peaks  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.inference.backends.torch_engine import EAGER, GRAPH, Engine  # noqa: E402
from centernet.inference.frame_canvas import fill_canvas, plan_warps  # noqa: E402
from centernet.inference.gpu_preprocess import input_coordinates, preprocess_frames, preprocess_on_device  # noqa: E402
from centernet.geometry.transforms import PreprocessSpec, preprocess  # noqa: E402
from centernet.jobs.bench import BenchOptions, agreement, bench, bench_frames, write_json  # noqa: E402
from centernet.models.build import build_model  # noqa: E402
from centernet.models.checkpoint import info_for_original, load_checkpoint  # noqa: E402
from centernet.models.zoo import default_weights  # noqa: E402
from centernet.timing import median_ms  # noqa: E402
from kernels.gather import gather_peaks  # noqa: E402
from kernels.peaks import peak_topk  # noqa: E402
from kernels.preprocess import warp_normalize, warp_params  # noqa: E402
from kernels.runtime import probe  # noqa: E402


def check_preprocess(frames) -> dict:
    """The kernel against its torch reference and OpenCV per frame (also a 176x144 one, which the resize
    modes enlarge: its edge repeated as cv2.resize does), and, per spec, the frames resized to four sizes
    on one canvas (each frame's own matrix, size and bounds, the canvas beyond them 255) against the
    reference: what lets streams of different sizes share a graph replay."""
    specs = {"affine": PreprocessSpec(),
             "stretch_rgb": PreprocessSpec(resize="stretch", channel_order="rgb", pixel_scale=1.0, mean=(0, 0, 0),
                                           std=(1, 1, 1)),
             "pad_square_rgb": PreprocessSpec(resize="pad_square", channel_order="rgb", pixel_scale=1.0,
                                              mean=(0, 0, 0), std=(1, 1, 1)),
             "pad_square_trunc": PreprocessSpec(resize="pad_square", input_size=(384, 384), channel_order="rgb",
                                                pixel_scale=1.0, mean=(0, 0, 0), std=(1, 1, 1), truncate_pixels=True)}
    out = {}
    for name, spec in specs.items():
        kernel_vs_torch, grey_mean, grey_max = 0.0, 0.0, 0.0
        params = warp_params(spec.pixel_scale, spec.mean, spec.std, spec.channel_order == "rgb", spec.truncate_pixels)
        for f in [*frames, cv2.resize(frames[0], (176, 144), interpolation=cv2.INTER_AREA)]:
            host, tf = preprocess(f, spec)
            dev_frame = torch.from_numpy(f).cuda()
            ref = preprocess_on_device(dev_frame, tf, spec)
            warps = plan_warps("ctdet", spec, [f.shape[:2]])
            buf = torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)  # contiguous (ref: a view of HWC)
            warp_normalize(dev_frame[None].contiguous(), torch.from_numpy(warps.matrices).cuda(),
                           torch.from_numpy(warps.sizes).cuda(), torch.from_numpy(warps.bounds).cuda(), buf, params)
            kernel_vs_torch = max(kernel_vs_torch, float((buf - ref).abs().max()))
            std = torch.tensor(spec.std, device="cuda").view(1, 3, 1, 1)
            grey = ((buf - host.cuda()) * std / spec.pixel_scale).abs()
            grey_mean, grey_max = max(grey_mean, float(grey.mean())), max(grey_max, float(grey.max()))
        mixed = [cv2.resize(f, (w, h)) for f, (h, w) in zip(frames, ((720, 1280), (540, 960), (480, 640), (300, 500)))]
        warps = plan_warps("ctdet", spec, [f.shape[:2] for f in mixed])
        canvas = torch.from_numpy(fill_canvas(np.full((len(mixed), 768, 1280, 3), 255, np.uint8), mixed)).cuda()
        matrices, sizes, bounds = (torch.from_numpy(a).cuda() for a in (warps.matrices, warps.sizes, warps.bounds))
        ref = preprocess_frames(canvas, matrices, sizes, bounds, spec, input_coordinates(spec.input_size, "cuda"))
        buf = torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)
        warp_normalize(canvas, matrices, sizes, bounds, buf, params)
        canvas_vs_torch = float((buf - ref).abs().max())
        out[name] = {"kernel_vs_torch_max": kernel_vs_torch, "vs_opencv_grey_mean": grey_mean,
                     "vs_opencv_grey_max": grey_max, "canvas_kernel_vs_torch_max": canvas_vs_torch,
                     "pass": kernel_vs_torch <= 1e-3 and grey_mean <= 0.5 and grey_max <= 4 and canvas_vs_torch <= 1e-3}
    return out


def check_peaks() -> dict:
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
        t_kernel = median_ms(lambda: peak_topk(hm[:1], 100))
        t_torch = median_ms(lambda: topk_peaks(peak_mask_scores(torch.sigmoid(hm[:1])), 100))
        out[name] = {"same_peaks": same, "score_max_diff": diff, "kernel_ms": t_kernel, "torch_ms": t_torch,
                     "speedup": t_torch / t_kernel, "pass": same and diff <= 1e-3}
    return out


def check_gather() -> dict:
    """The gather kernel against `gather_at` on both layouts and dtypes: exactly equal."""
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
    model, info = load_checkpoint(default_weights("ctdet"))
    spec, box_mode = info.preprocess, info.decode.get("box_mode", "size")
    eager32 = Engine(model, spec, torch.device("cuda"), "fp32", EAGER, box_mode=box_mode)
    graph16 = Engine(model, spec, torch.device("cuda"), "fp16", GRAPH, box_mode=box_mode)
    graph32 = Engine(model, spec, torch.device("cuda"), "fp32", GRAPH, box_mode=box_mode)
    eager, g16, g32 = [], [], []
    with torch.inference_mode():
        for f in frames:
            x, _ = preprocess(f, spec)
            h = eager32.forward(x)
            eager.append(ctdet_decode_batch(h["hm"], h["wh"], h.get("reg"), box_mode=box_mode)[0].to("cpu"))
            for eng, acc in ((graph16, g16), (graph32, g32)):
                s, c, b, _ = eng.run_graph([f])[0]
                acc.append(Detections(b[s > 0], s[s > 0], c[s > 0]))
    fp16, fp16_back = agreement(eager, g16), agreement(g16, eager)  # both ways: none lost, none added
    graph, graph_back = agreement(eager, g32), agreement(g32, eager)
    return {"fp16_vs_fp32_matched": fp16, "fp16_vs_fp32_matched_reverse": fp16_back,
            "graph_fp32_vs_eager_matched": graph, "graph_fp32_vs_eager_matched_reverse": graph_back,
            "deform_conv": graph16.deform_conv, "kernels": graph16.use_kernels,
            "pass": min(fp16, fp16_back, graph, graph_back) >= 0.99}


def task_model(task: str, arch: str, seed: int = 0):
    """(model, info) with random weights, the heatmap bias raised so that detections score about 0.6
    and the sizes made positive: graph-vs-eager comparisons then have boxes above the 0.3 threshold
    (no CenterNet weights ship for these tasks: the default multi_pose model, MoveNet, stays eager)."""
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
               ("ddd", "dla_34", False), ("ctdet", "resdcn_18", False))
FP16_CASES = (("multi_pose", "dla_34", True), ("ddd", "dla_34", False))
TORCH_ONLY_CASES = (("ctdet", "default", True), ("multi_pose", "dla_34", False))


def check_graph_tasks(frames, device: str = "cuda", fast_engine: str = GRAPH, cases=GRAPH_CASES,
                      input_size=None, batch: int = 4, precision: str = "fp32",
                      use_kernels: bool | None = None) -> dict:
    """Graph vs eager through the Detector (both in `precision`), `batch` frames a call, for every task and flip.

    ctdet runs the shipped default model (real weights; `arch` "default"), the others `task_model`.
    ddd frames are resized to KITTI's 1242x375. `fast_engine` "eager" runs the same code on a CPU.
    use_kernels False: the graph with the torch pre-processing and decode (what runs without CuPy)."""
    out = {}
    for task, arch, flip in cases:
        model, info = load_checkpoint(default_weights(task)) if arch == "default" else task_model(task, arch)
        clip = [cv2.resize(f, (1242, 375)) for f in frames] if task == "ddd" else list(frames)
        chunks = [clip[i:i + batch] for i in range(0, len(clip) - batch + 1, batch)]
        fast = Detector(model, info, device, flip=flip, engine=fast_engine, input_size=input_size, precision=precision)
        if use_kernels is not None:  # read when the engine makes its first pipeline
            fast.engine.use_kernels = use_kernels
        eager = Detector(model, info, device, flip=flip, engine=EAGER, input_size=input_size, precision=precision)
        got = [d for c in chunks for d in fast.detect_batch(c)]
        want = [d for c in chunks for d in eager.detect_batch(c)]
        name = f"{task}_{info.arch}{'_flip' if flip else ''}"
        stats = vars(fast.engine.stats)
        out[name] = {**compare_detections(want, got, task), "mode": fast.engine.mode, "batch": batch,
                     "precision": fast.engine.precision, "kernels": fast.engine.use_kernels,
                     "deform_conv": fast.engine.deform_conv, "captures": stats["captures"],
                     "replays": stats["replays"], "capture_failures": stats["capture_failures"]}
        if fast_engine == GRAPH:
            out[name]["pass"] = out[name]["pass"] and stats["capture_failures"] == 0 and stats["replays"] > 0
    return out


MIXED_CASES = (("ctdet", "default", True), ("ddd", "dla_34", False))
MIXED_SIZES = {"ctdet": ((720, 1280), (540, 960), (480, 640), (360, 640)),
               "ddd": ((375, 1242), (370, 1224), (384, 1280), (352, 1216))}


def check_mixed_sizes(frames, device: str = "cuda", fast_engine: str = GRAPH, cases=MIXED_CASES,
                      sizes=MIXED_SIZES, input_size=None) -> dict:
    """Frames of four sizes in one call (each frame's own warp fed into one graph replay), then a padded
    call (the first frame repeated, as the live model thread pads), against each frame alone through
    the eager path. On a GPU: one capture, two replays. `fast_engine` "eager" runs the same code on a CPU."""
    out = {}
    for task, arch, flip in cases:
        model, info = load_checkpoint(default_weights(task)) if arch == "default" else task_model(task, arch)
        clip = [cv2.resize(f, (w, h)) for f, (h, w) in zip(frames, sizes[task])]
        fast = Detector(model, info, device, flip=flip, engine=fast_engine, input_size=input_size)
        eager = Detector(model, info, device, flip=flip, engine=EAGER, input_size=input_size)
        got = fast.detect_batch(clip) + fast.detect_batch(clip[:1] * len(clip))[:1]
        want = [eager.detect_batch([f])[0] for f in clip]
        stats = fast.engine.stats
        name = f"{task}_{info.arch}{'_flip' if flip else ''}"
        out[name] = {**compare_detections(want + want[:1], got, task), "mode": fast.engine.mode,
                     "sizes": [list(f.shape[:2]) for f in clip], "captures": stats.captures, "replays": stats.replays}
        if fast_engine == GRAPH:
            out[name]["pass"] = out[name]["pass"] and stats.captures == 1 and stats.replays == 2
    return out


def check_capture_conditions(frames, device: str = "cuda", input_size=(256, 256), batch: int = 2) -> dict:
    """Captures in the conditions the app makes: from a worker thread while another thread allocates
    ("thread_local" capture mode), and with forward hooks on the model. A hook that skips while
    capturing (the GUI's heatmap tap) leaves the graph working; one that copies to the host breaks
    the capture: the engine then runs those frames eager (remembered, not re-captured) and the thread
    is back on its own stream. Each compared with the eager Detector."""
    model, info = task_model("ctdet", "res_18")
    clip = list(frames[:batch])
    want = Detector(model, info, device, engine=EAGER, input_size=input_size).detect_batch(clip)

    def graph_detector():
        return Detector(model, info, device, engine=GRAPH, input_size=input_size)

    out = {}
    worker_det, got = graph_detector(), {}

    def work():
        try:
            got["dets"] = worker_det.detect_batch(clip)
        except Exception as e:  # raised again in this thread, with its traceback
            got["error"] = e

    worker = threading.Thread(target=work)
    worker.start()
    allocated = 0
    while worker.is_alive():  # allocations of this thread while the worker captures
        allocated += 1
        torch.empty((allocated % 16 + 1) << 20, dtype=torch.uint8, device=device)  # freed at once
        worker.join(0.002)
    if "error" in got:
        raise got["error"]
    stats = worker_det.engine.stats
    out["worker_thread"] = {**compare_detections(want, got.get("dets", []), "ctdet"),
                            "captures": stats.captures, "capture_failures": stats.capture_failures,
                            "allocations_meanwhile": allocated}
    out["worker_thread"]["pass"] = out["worker_thread"]["pass"] and stats.captures == 1

    polite_det, seen = graph_detector(), []

    def polite(module, inputs, outputs):
        if torch.cuda.is_current_stream_capturing():
            return
        seen.append(float(outputs["hm"].amax()))

    handle = polite_det.engine.model.register_forward_hook(polite)
    dets = polite_det.detect_batch(clip)
    handle.remove()
    stats = polite_det.engine.stats
    out["hook_skipping_capture"] = {**compare_detections(want, dets, "ctdet"), "captures": stats.captures,
                                    "capture_failures": stats.capture_failures, "hook_calls_outside": len(seen)}
    out["hook_skipping_capture"]["pass"] = out["hook_skipping_capture"]["pass"] and stats.capture_failures == 0

    rude_det = graph_detector()
    rude_det.engine.model.register_forward_hook(lambda module, inputs, outputs: outputs["hm"].cpu())
    first, again = rude_det.detect_batch(clip), rude_det.detect_batch(clip)
    stats = rude_det.engine.stats
    on_default = torch.cuda.current_stream() == torch.cuda.default_stream()
    errors = list(rude_det.engine.failed_captures.values())
    out["hook_copying_to_host"] = {**compare_detections(want, first, "ctdet"),
                                   "again_matched": compare_detections(want, again, "ctdet")["matched"],
                                   "captures": stats.captures, "capture_failures": stats.capture_failures,
                                   "eager_runs": stats.eager_runs, "on_default_stream": on_default,
                                   "capture_error": errors[0] if errors else None}
    out["hook_copying_to_host"]["pass"] = (out["hook_copying_to_host"]["pass"] and stats.capture_failures == 1
                                           and stats.captures == 0 and on_default)
    return out


def bench_batched(frames, arch: str = "res_18", batch: int = 32, replays: int = 10, device: str = "cuda",
                  precision: str = "fp16", res: int = 512) -> dict:
    """Frames/s of `batch` same-size frames per `Engine.run_frames` (one graph replay on CUDA) with
    random weights (speed does not depend on them), against batch 1 on the same engine."""
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


TOTAL_LIMIT_S = 300  # the whole check: `pytest -m cuda` runs after it, both within 8 minutes
STUCK_GRACE_S = 30   # after a step's limit, how long it may take to notice before the process is ended


@dataclass(frozen=True)
class Step:
    """One check or benchmark: its name, what it runs, its time limit, whether it needs the kernels."""

    name: str
    run: Callable[[], dict]
    limit_s: float
    kind: str = "check"        # "check" (pass / fail counts) or "benchmark" (figures; an error is a fail)
    needs_kernels: bool = False


class StepTimeout(BaseException):  # not an Exception: code under test that catches those must not swallow it
    pass


def gpu_check_steps(frames, frames8, probe_result) -> list[Step]:
    """Every step of `bench --gpu-check`, in order, with its time limit (seconds, on one H200)."""
    def bench_arch(arch, n):
        return lambda: bench(BenchOptions(arch=arch, task="ctdet", res=512, precision="fp16", engine="auto", frames=n,
                                          warmup=20, device="cuda"))
    return [
        Step("cupy_probe", lambda: probe_report(probe_result), 60),
        Step("preprocess_kernel", lambda: check_preprocess(frames), 60, needs_kernels=True),
        Step("peak_kernel", check_peaks, 60, needs_kernels=True),
        Step("gather_kernel", check_gather, 30, needs_kernels=True),
        Step("default_model_fp16_graph", lambda: check_default_models(frames), 90),
        Step("graph_vs_eager_tasks", lambda: check_graph_tasks(frames8), 120),
        Step("graph_fp16_tasks", lambda: check_graph_tasks(frames8, cases=FP16_CASES, precision="fp16"), 90),
        Step("graph_torch_only", lambda: check_graph_tasks(frames8, cases=TORCH_ONLY_CASES, use_kernels=False), 90),
        Step("graph_worker_thread_and_hooks", lambda: check_capture_conditions(frames8), 90),
        Step("graph_mixed_frame_sizes", lambda: check_mixed_sizes(frames8), 60),
        Step("bench_res_18", bench_arch("res_18", 300), 60, "benchmark"),
        Step("bench_resdcn_18", bench_arch("resdcn_18", 300), 60, "benchmark"),
        Step("bench_dla_34", bench_arch("dla_34", 200), 60, "benchmark"),
        Step("bench_hourglass", bench_arch("hourglass", 100), 90, "benchmark"),
        Step("bench_res_18_graph_batch_32", lambda: bench_batched(frames8), 60, "benchmark"),
    ]


def probe_report(probe_result) -> dict:
    """The CuPy probe as a check: usable passes; not installed is a skip; installed but unusable fails."""
    if probe_result.usable:
        return {"pass": True}
    if not probe_result.installed:
        return {"status": "skipped", "reason": probe_result.reason}
    return {"pass": False, "error": probe_result.reason, "traceback": probe_result.detail}


def run_gpu_check(report_path: Path, say: Callable[[str], None] = lambda line: None,
                  total_s: float = TOTAL_LIMIT_S) -> int:
    """Run every step, each under its time limit and all within `total_s`, writing the JSON report after
    each (a run cut short still reports). One line per step: pass / fail / skipped. Returns 0 when
    no check failed."""
    if not torch.cuda.is_available():
        raise ConfigError("bench --gpu-check needs a CUDA GPU; none is available here")
    probe_result = probe()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "torchvision": torchvision.__version__, "cupy": probe_result.installed,
              "kernels_usable": probe_result.usable, "date": time.strftime("%Y-%m-%d"), "checks": {},
              "benchmarks": {}, "first_failure": None, "finished": False}
    writer = ReportWriter(report, Path(report_path), say)
    run_steps(gpu_check_steps(bench_frames(6), bench_frames(8), probe_result), writer, total_s,
              "" if probe_result.usable else probe_result.reason)
    ok = all(_passed(v) for v in report["checks"].values())
    report["all_checks_pass"], report["finished"] = ok, True
    writer.write()
    say(f"{'all checks pass' if ok else 'SOME CHECKS FAILED'}; report in {report_path}")
    return 0 if ok else 1


def run_steps(steps: list[Step], writer: "ReportWriter", total_s: float, kernels_off: str = "") -> None:
    """Each step under its own limit and what is left of `total_s`; kernel steps are skipped when
    `kernels_off` says why the kernels cannot run, and any step once the time is spent."""
    deadline = time.monotonic() + total_s
    for step in steps:
        left = deadline - time.monotonic()
        if step.needs_kernels and kernels_off:
            writer.record(step, {"status": "skipped", "reason": f"CUDA kernels unusable: {kernels_off}"}, 0)
        elif left < 5:
            reason = f"out of time: the check's {total_s:.0f} s are spent"
            writer.record(step, {"status": "skipped", "reason": reason}, 0)
        else:
            run_step(step, min(step.limit_s, left), writer)


class ReportWriter:
    """Records step results into the report and writes it at once (atomically), from either thread."""

    def __init__(self, report: dict, path: Path, say: Callable[[str], None]):
        self.report, self.path, self.say = report, path, say
        self.lock = threading.Lock()

    def record(self, step: Step, result: dict, seconds: float) -> None:
        with self.lock:
            result = {**result, "status": step_status(result), "seconds": round(seconds, 1)}
            self.report["checks" if step.kind == "check" else "benchmarks"][step.name] = result
            if result["status"] == "fail" and self.report["first_failure"] is None:
                self.report["first_failure"] = {"step": step.name, "error": result.get("error", "a check failed")}
            self.write()
            detail = result.get("reason") or result.get("error") or ""
            self.say(f"{result['status'].upper():7} {step.name} ({seconds:.0f}s){': ' + detail if detail else ''}")

    def write(self) -> None:
        write_json(self.report, self.path)


def step_status(result: dict) -> str:
    if result.get("status") in ("skipped", "fail", "pass"):
        return result["status"]
    if "error" in result:
        return "fail"
    return "pass" if _passed(result) else "fail"


def run_step(step: Step, limit_s: float, writer: ReportWriter) -> None:
    """One step on this thread's default stream, synchronized before it counts as done (an
    asynchronous fault is blamed on its own step), under a watchdog: at the limit, `StepTimeout` is
    raised in this thread and the step recorded as failed; if it cannot be interrupted (stuck in a
    CUDA call), the report says so and the process ends after STUCK_GRACE_S."""
    started = time.monotonic()
    thread = threading.get_ident()
    lock, state = threading.Lock(), {"finished": False}
    done = threading.Event()

    def expire():
        with lock:
            if state["finished"]:
                return
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(StepTimeout))
        if not done.wait(STUCK_GRACE_S):
            stack = "".join(traceback.format_stack(sys._current_frames().get(thread)))
            writer.record(step, {"error": f"timed out after {limit_s:.0f} s and stuck; the check was ended",
                                 "traceback": stack}, time.monotonic() - started)
            os._exit(124)

    watchdog = threading.Timer(limit_s, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        result = step.run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        with lock:
            state["finished"] = True
    except StepTimeout:
        result = {"error": f"timed out after {limit_s:.0f} s", "traceback": traceback.format_exc()}
    except Exception as e:  # the first error and its causes, whole
        result = {"error": f"{type(e).__name__}: {e}", "traceback": "".join(traceback.format_exception(e))}
    finally:
        watchdog.cancel()
        done.set()
    restore_default_stream(result)
    writer.record(step, result, time.monotonic() - started)


def restore_default_stream(result: dict) -> None:
    """Put this thread back on its default stream if a step left it elsewhere (noted in the result)."""
    if not torch.cuda.is_available():
        return
    device = torch.cuda.current_device()
    if torch.cuda.current_stream(device) != torch.cuda.default_stream(device):
        result["left_on_a_side_stream"] = True
        torch.cuda.set_stream(torch.cuda.default_stream(device))


def _passed(check: dict) -> bool:
    """A check passes when its "pass" (or every nested check's) holds; skipped ones count as passed."""
    if check.get("status") == "skipped":
        return True
    if check.get("status") == "fail" or "error" in check:
        return False
    if "pass" in check:
        return bool(check["pass"])
    return all(_passed(v) for v in check.values() if isinstance(v, dict))


def main(argv: list[str] | None = None) -> int:
    """Run the check; a user error (no GPU) is one line on stderr and exit code 2, as `main.py` prints it."""
    p = argparse.ArgumentParser(description="every CUDA check and the GPU benchmarks, one JSON report")
    p.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="the report (default gpu_check.json)")
    args = p.parse_args(argv)
    try:
        return run_gpu_check(args.json, say=lambda line: print(line, flush=True))
    except CenterNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

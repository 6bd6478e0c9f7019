"""`main.py bench`: per-stage latency of plain torch vs the engine; `--gpu-check` runs every CUDA check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.cli.options import ARCH, BATCH, DEVICE, ENGINE, JSON, PRECISION, RES, TASK, WARMUP, WEIGHTS
from centernet.jobs.bench import BenchOptions, bench, format_record, write_json
from centernet.jobs.bench_timing import check_counts
from centernet.jobs.bench_engines import EngineRow, engines_table, format_engines_table
from centernet.io.writers.atomic import ensure_writable_file


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="per-stage latency: plain torch vs the engine, side by side; --gpu-check")
    d = BenchOptions()   # the defaults, declared once
    WEIGHTS.add(p, help="checkpoint (default: --arch with random weights; speed does not depend on them)")
    ARCH.add(p, default=d.arch, help=f"the arch to time with random weights (default {d.arch})")
    TASK.add(p, default=d.task, help=f"task (default {d.task})")
    RES.add(p, default=d.res)
    PRECISION.add(p, default=d.precision,
                  help="engine precision; auto: fp16 on a GPU, bf16 on a CPU with AVX512-BF16/AMX, else fp32")
    ENGINE.add(p, default=d.engine)
    p.add_argument("--frames", type=int, default=d.frames, help="timed frames after warm-up (batches with --batch)")
    WARMUP.add(p, default=d.warmup, help=f"untimed frames before timing (default {d.warmup})")
    DEVICE.add(p, default=d.device, help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--no-compare", dest="compare", action="store_false",
                   help="skip the plain fp32 eager baseline")
    BATCH.add(p, default=d.batch, help="frames per forward pass (batched mode for annotation)")
    p.add_argument("--ablation", action="store_true",
                   help="on CPU, also time each optimisation step (channels_last + BN folding, deform conv, bf16) "
                        "and ONNX Runtime")
    p.add_argument("--load", type=int, default=d.load, metavar="N",
                   help="also time the engine beside N busy processes and report the slow-down (same run)")
    p.add_argument("--engines", action="store_true",
                   help="CPU engines side by side (torch eager fp32/bf16, ONNX Runtime, OpenVINO fp32/bf16) for "
                        "--models at --sizes, as a Markdown table (with --load: slow-down per engine)")
    p.add_argument("--models", default="default:ctdet,default:multi_pose,res_18,dla_34",
                   help="with --engines: default:<task> (a shipped model) or an arch with random weights")
    p.add_argument("--sizes", default="384,512", help="with --engines: square input sizes")
    JSON.add(p, help="write the record here")
    p.add_argument("--gpu-check", action="store_true",
                   help="run every CUDA check (kernels vs torch, graph vs eager, fp16 vs fp32) and the GPU benchmarks")
    p.set_defaults(func=run)


def bench_options(args) -> BenchOptions:
    return BenchOptions(weights=args.weights, arch=args.arch, task=args.task, res=args.res, precision=args.precision,
                        engine=args.engine, frames=args.frames, warmup=args.warmup, device=args.device,
                        compare=args.compare, batch=args.batch, ablation=args.ablation, load=args.load)


def run(args) -> int:
    check_counts(args.frames, args.batch, args.warmup)   # before the table's header or the GPU checks
    if args.json is not None:
        ensure_writable_file(args.json, "--json")  # before the measurement, not after it
    if args.gpu_check:
        return run_gpu_check(args.json or Path("gpu_check.json"))
    if args.engines:
        return run_engines(args)
    record = bench(bench_options(args))
    print(format_record(record))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    return 0


GPU_CHECK = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.py"


def run_gpu_check(report: Path) -> int:
    """The GPU test harness (tools/gpu_check.py, outside the library) as a process: its lines pass through,
    its exit code is ours (2 and one line without a GPU)."""
    return subprocess.run([sys.executable, str(GPU_CHECK), "--json", str(report)]).returncode


def run_engines(args) -> int:
    """`bench --engines`: the Markdown table, row by row as measured (a long run shows progress)."""
    import os
    import time
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    sizes = tuple(int(v) for v in args.sizes.split(",") if v.strip())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f} before the run")
    print(format_engines_table([], args.load))

    def show(row: EngineRow) -> None:
        print(format_engines_table([row], args.load).splitlines()[-1], flush=True)

    rows = engines_table(models, sizes, args.frames, args.warmup, args.load, on_row=show)
    print(f"# load average {os.getloadavg()[0]:.2f} after the run")
    if args.json:
        write_json({"rows": [vars(r) for r in rows], "load": args.load}, args.json)
        print(f"wrote {args.json}")
    return 0

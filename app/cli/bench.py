"""`main.py bench`: per-stage latency of plain torch vs the engine; `--gpu-check` runs every CUDA check."""
from __future__ import annotations

from pathlib import Path

from app.cli.options import positive_int
from centernet.inference.backends.registry import AUTO, ENGINE_NAMES, engine_help
from centernet.jobs.bench import bench, format_record, write_json
from centernet.jobs.bench_engines import EngineRow, engines_table, format_engines_table
from centernet.jobs.gpu_check import run_gpu_check
from centernet.io.writers.atomic import ensure_writable_file


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="per-stage latency: plain torch vs the engine, side by side; --gpu-check")
    p.add_argument("--weights", help="checkpoint (default: --arch with random weights; speed does not depend on them)")
    p.add_argument("--arch", default="res_18")
    p.add_argument("--task", default="ctdet", choices=("ctdet", "multi_pose", "ddd"))
    p.add_argument("--res", type=positive_int, default=512, help="square network input size")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="engine precision; auto: fp16 on a GPU, bf16 on a CPU with AVX512-BF16/AMX, else fp32")
    p.add_argument("--engine", default=AUTO, choices=ENGINE_NAMES, help=engine_help())
    p.add_argument("--frames", type=int, default=50, help="timed frames after warm-up (batches with --batch)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-compare", dest="compare", action="store_false",
                   help="skip the plain fp32 eager baseline")
    p.add_argument("--batch", type=int, default=1, help="frames per forward pass (batched mode for annotation)")
    p.add_argument("--ablation", action="store_true",
                   help="on CPU, also time each optimisation step (channels_last + BN folding, deform conv, bf16) "
                        "and ONNX Runtime")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="also time the engine beside N busy processes and report the slow-down (same run)")
    p.add_argument("--engines", action="store_true",
                   help="CPU engines side by side (torch eager fp32/bf16, ONNX Runtime, OpenVINO fp32/bf16) for "
                        "--models at --sizes, as a Markdown table (with --load: slow-down per engine)")
    p.add_argument("--models", default="default:ctdet,default:multi_pose,res_18,dla_34",
                   help="with --engines: default:<task> (a shipped model) or an arch with random weights")
    p.add_argument("--sizes", default="384,512", help="with --engines: square input sizes")
    p.add_argument("--json", type=Path, help="write the record here")
    p.add_argument("--gpu-check", action="store_true",
                   help="run every CUDA check (kernels vs torch, graph vs eager, fp16 vs fp32) and the GPU benchmarks")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.json is not None:
        ensure_writable_file(args.json, "--json")  # before the measurement, not after it
    if args.gpu_check:
        return run_gpu_check(args.json or Path("gpu_check.json"), say=print)
    if args.engines:
        return run_engines(args)
    record = bench(args.weights, args.arch, args.task, args.res, args.precision, args.engine, args.frames,
                   args.warmup, args.device, args.compare, args.batch, args.ablation, args.load)
    print(format_record(record))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    return 0


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

"""The command line: one function per subcommand; `main.py` and the `centernet` script call `main`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from centernet.classes import parse_classes
from centernet.errors import CenterNetError
from centernet.jobs.detect import build_detector

EXIT_USER_ERROR = 2
EXIT_PARTIAL_FAILURE = 1


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="checkpoint file (original model zoo or ours); default: the shipped model")
    p.add_argument("--arch", help="override the arch read from the checkpoint")
    p.add_argument("--task", choices=("ctdet", "multi_pose", "ddd"), help="task (default: read from the checkpoint)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--keep-res", action="store_true", help="keep the image resolution (padded), as the original")
    p.add_argument("--input-size", type=parse_size, help="network input HxW or N (default: the checkpoint's)")
    p.add_argument("--engine", default="auto", choices=("auto", "eager", "graph", "onnxruntime", "plain"),
                   help="auto: CUDA graph on a GPU, tuned eager on CPU; onnxruntime: CPU, the model exported to ONNX "
                        "once (cached) and run by ONNX Runtime; plain: the model exactly as loaded")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16", "auto"),
                   help="network precision: fp32 (default, equal to the original), fp16 (GPU), bf16 (GPU, or a "
                        "CPU with AVX512-BF16/AMX: ~2x faster there, same AP on coco_mini, not bit-equal), auto "
                        "(fp16 on a GPU, bf16 on such a CPU, else fp32)")


def add_tta_options(p: argparse.ArgumentParser) -> None:
    """Test-time augmentation, as the original's --flip_test / --test_scales (detect, annotate)."""
    p.add_argument("--flip", action="store_true", help="also run the mirrored image and average (ctdet, multi_pose)")
    p.add_argument("--scales", type=parse_scales, default=(1.0,),
                   help="test scales, e.g. 0.5,0.75,1,1.25,1.5: merged with the original's soft-NMS")


def add_calib_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calib", type=Path, help="ddd camera: a KITTI calib file (P2), an intrinsics JSON "
                   "({fx, fy, cx, cy} or {P: 3x4}), a 4x4 matrix file, or a folder of <image name>.txt")


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad scales {text!r}: use numbers separated by commas, "
                                         f"e.g. 0.5,1,1.5") from None
    if not scales or any(not (0.05 <= v <= 8) for v in scales):
        raise argparse.ArgumentTypeError(f"bad scales {text!r}: give one or more factors between 0.05 and 8")
    return scales


def parse_size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use N or HxW, e.g. 512 or 384x640") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 32 or any(v % 32 for v in parts):
        raise argparse.ArgumentTypeError(f"bad size {text!r}: give N or HxW, multiples of 32 and at least 32")
    return parts[0], parts[1]





def cmd_detect(args) -> int:
    from centernet.jobs.detect import run_detect
    return run_detect(args)


def cmd_gui(args) -> int:
    from app.gui.main import run_gui  # Qt is imported only for this command
    return run_gui(args)


def cmd_bench(args) -> int:
    from centernet.jobs.bench import bench, format_record, write_json
    if args.gpu_check:
        from centernet.jobs.gpu_check import run_gpu_check
        return run_gpu_check(args.json or Path("gpu_check.json"))
    record = bench(args.weights, args.arch, args.task, args.res, args.precision, args.engine, args.frames,
                   args.warmup, args.device, args.compare, args.batch, args.ablation)
    print(format_record(record))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    return 0


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="per-stage latency: plain torch vs the engine, side by side; --gpu-check")
    p.add_argument("--weights", help="checkpoint (default: --arch with random weights; speed does not depend on them)")
    p.add_argument("--arch", default="res_18")
    p.add_argument("--task", default="ctdet", choices=("ctdet", "multi_pose", "ddd"))
    p.add_argument("--res", type=int, default=512, help="square network input size")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="engine precision; auto: fp16 on a GPU, bf16 on a CPU with AVX512-BF16/AMX, else fp32")
    p.add_argument("--engine", default="auto", choices=("auto", "eager", "graph", "onnxruntime"))
    p.add_argument("--frames", type=int, default=50, help="timed frames after warm-up (batches with --batch)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-compare", dest="compare", action="store_false",
                   help="skip the plain fp32 eager baseline")
    p.add_argument("--batch", type=int, default=1, help="frames per forward pass (batched mode for annotation)")
    p.add_argument("--ablation", action="store_true",
                   help="on CPU, also time each optimisation step (channels_last + BN folding, deform conv, bf16) "
                        "and ONNX Runtime")
    p.add_argument("--json", type=Path, help="write the record here")
    p.add_argument("--gpu-check", action="store_true",
                   help="run every CUDA check (kernels vs torch, graph vs eager, fp16 vs fp32) and the GPU benchmarks")
    p.set_defaults(func=cmd_bench)


def parse_time(text: str) -> float:
    """'90', '90s', '1m30s', '1h', '500ms', '01:30' or '1:02:03.5' -> seconds."""
    t = text.strip().lower()
    try:
        if ":" in t:
            parts = [float(v) for v in t.split(":")]
            if len(parts) > 3:
                raise ValueError
            return sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        if t.endswith("ms"):
            return float(t[:-2]) / 1000.0
        total, number = 0.0, ""
        for ch in t:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in "hms" and number:
                total += float(number) * {"h": 3600, "m": 60, "s": 1}[ch]
                number = ""
            else:
                raise ValueError
        return total + (float(number) if number else 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad time {text!r}: use seconds or e.g. 10s, 1m30s, 500ms, 01:30") from None


def cmd_annotate(args) -> int:
    from centernet.jobs.annotate import AnnotateOptions, parse_formats, plan_job, run_job
    from dataclasses import replace
    options = AnnotateOptions(formats=parse_formats(args.format), every=args.every, start_s=args.start or 0.0,
                              end_s=args.end, duration_s=args.duration, batch=args.batch, chunk=args.chunk,
                              threshold=args.threshold, track=args.track, resume=args.resume,
                              overwrite=args.overwrite, quiet=args.quiet)
    plan = plan_job(args.inputs, args.out, options)
    detector = build_detector(args)
    options = replace(options, classes=parse_classes(args.classes, detector.class_names))
    return run_job(plan, detector, options).exit_code


def add_annotate_parser(sub) -> None:
    p = sub.add_parser("annotate", help="annotate videos, folders, cameras, streams: COCO JSON, MOT, CSV, video")
    p.add_argument("inputs", nargs="+", help="video files, image folders, glob patterns, camera indices or URLs")
    add_model_options(p)
    p.add_argument("--out", type=Path, default=Path("annotated"),
                   help="one folder per input goes here (default: annotated)")
    p.add_argument("--format", default="coco,video",
                   help="comma-separated: coco, mot, csv, video (default: coco,video)")
    p.add_argument("--threshold", type=float, default=0.3, help="keep detections scoring at least this (default 0.3)")
    p.add_argument("--classes", help="only these classes (names or indices, comma-separated)")
    add_tta_options(p)
    p.add_argument("--every", type=int, default=1, help="annotate one frame in N")
    p.add_argument("--start", type=parse_time, help="files: start at this time (10s, 1m30s, 01:30)")
    p.add_argument("--end", type=parse_time, help="files: stop before this time")
    p.add_argument("--duration", type=parse_time,
                   help="cameras and URLs: record this long; files: --end = --start + it")
    p.add_argument("--batch", type=int, default=8, help="frames per forward pass (default 8)")
    p.add_argument("--chunk", type=int, default=64, help="frames per resume checkpoint (default 64)")
    p.add_argument("--track", action="store_true", help="give detections track ids (the mot format turns this on)")
    p.add_argument("--resume", action="store_true", help="continue interrupted output folders")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages, only errors")
    p.set_defaults(func=cmd_annotate)


def cmd_export(args) -> int:
    from centernet.inference.onnx_export import export_onnx
    from centernet.models.zoo import default_weights
    weights = args.weights or default_weights(args.task or "ctdet")
    path = export_onnx(weights, args.out or Path(Path(weights).stem + ".onnx"), args.input_size, args.arch, args.task)
    print(f"wrote {path} (ONNX opset 19; run it with onnxruntime or `detect --engine onnx`)")
    return 0


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint: onnx")
    p.add_argument("format", choices=("onnx",))
    p.add_argument("--weights", help="checkpoint (default: the shipped model)")
    p.add_argument("--arch")
    p.add_argument("--task", choices=("ctdet", "multi_pose", "ddd"))
    p.add_argument("--input-size", type=parse_size, help="fixed input HxW or N (default: the checkpoint's)")
    p.add_argument("--out", type=Path, help="output .onnx file")
    p.set_defaults(func=cmd_export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="centernet", description="CenterNet Live: objects as points, in real time")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("detect", help="detect objects in images, folders and globs")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    add_model_options(p)
    p.add_argument("--threshold", type=float, default=None,
                   help="score threshold: drawing uses 0.3 when not given; the JSON keeps all K unless given")
    p.add_argument("--classes", help="only these classes (names or indices, comma-separated)")
    p.add_argument("--out", type=Path, help="folder for rendered images")
    p.add_argument("--json", type=Path, help="write COCO-format results here (multi_pose: keypoints; ddd: 3D fields)")
    p.add_argument("--kitti", type=Path, help="ddd: write one KITTI label file per image here (default: <--out>/kitti)")
    add_tta_options(p)
    add_calib_option(p)
    p.add_argument("--timings", action="store_true", help="print per-stage times per image and medians")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("gui", help="the desktop app: live detection on a camera, video, folder or stream")
    p.add_argument("--source", help="camera index, video file, image folder, image or URL (rtsp://, http://)")
    add_model_options(p)
    p.add_argument("--threshold", type=float, help="score threshold for drawing (default: last used, else 0.3)")
    p.add_argument("--headless", action="store_true", help="no window: run the pipeline, print the readout each second")
    p.add_argument("--max-seconds", type=float, help="headless: stop after this many seconds")
    p.add_argument("--max-frames", type=int, help="headless: stop after this many frames")
    p.add_argument("--fast", action="store_true", help="play files as fast as the model goes, not at their frame rate")
    p.add_argument("--loop", action="store_true", help="loop video files")
    p.set_defaults(func=cmd_gui)

    from app.cli.weights import add_weights_parser
    add_weights_parser(sub)
    add_bench_parser(sub)
    add_export_parser(sub)
    add_annotate_parser(sub)
    from app.cli.train import add_train_parsers
    add_train_parsers(sub)
    from app.cli.explore import add_explore_parser
    add_explore_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        from app.cli.demo import run_main_job
        return _guarded(run_main_job)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    return _guarded(lambda: args.func(args))


def _guarded(fn) -> int:
    """Run a command; a user error becomes one line on stderr and exit code 2."""
    try:
        return int(fn() or 0)
    except CenterNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

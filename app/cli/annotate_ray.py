"""`main.py annotate VIDEOS --ray [ADDRESS]`: the collection on a Ray pool; one progress bar, a summary table."""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from functools import partial

from tqdm import tqdm

from app.cli.options import WORKERS, detector_config
from app.cli.outcome import job_exit_code
from centernet.inference.backends.eager import PLAIN
from centernet.classes import parse_classes
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.jobs.annotate import AnnotateOptions, JobResult, plan_job
from centernet.jobs.annotate_ray import ClusterOptions, check_reachable, import_ray, run_job_on_ray

LOCAL = "local"  # `--ray` with no address


def parse_ray_address(text: str) -> str:
    """`auto`, `local`, `host:port` or `ray://host:port`; anything else (a video put right after --ray) is refused."""
    t = text.strip()
    if t in ("auto", LOCAL) or t.startswith("ray://") or re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d+", t):
        return t
    raise argparse.ArgumentTypeError(f"bad address {text!r}: use auto, host:port or ray://host:port, or nothing "
                                     f"for a local instance (put --ray after the videos)")


def add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const=LOCAL, type=parse_ray_address, metavar="ADDRESS",
                   help="annotate on a Ray pool, one worker per GPU (or CPU slot), whole videos each: no address "
                        "starts a local instance, `auto` or ray://host:10001 joins a cluster (docs/cluster.md)")
    WORKERS.add(p, help="--ray: at most this many workers (default: one per GPU, else one per CPU)")


def detector_on(config: DetectorConfig, device: str) -> Detector:
    """The configured Detector on the device the pool gives a worker (pickled to the workers with `config`)."""
    return Detector.from_config(replace(config, device=device))


def run_on_ray(args, options: AnnotateOptions, inputs: list[str]) -> int:
    ray = import_ray()  # without Ray: one line saying how to install it, exit 2
    if args.ray != LOCAL:
        check_reachable(ray, args.ray)  # before the model loads: an unreachable address is refused at once
    plan = plan_job(inputs, args.out, options)
    config = detector_config(args)
    # load once here on the CPU: a bad --weights fails now, once, and --classes needs the class names
    check = detector_on(replace(config, engine=PLAIN, precision="fp32"), "cpu")
    options = replace(options, classes=parse_classes(args.classes, check.class_names))
    del check
    device = str(args.device or "auto")
    cluster = ClusterOptions(address=None if args.ray == LOCAL else args.ray, workers=args.workers,
                             verbose=getattr(args, "verbose", False),
                             use_gpus=False if device == "cpu" else (True if device.startswith("cuda") else None))
    with tqdm(total=len(plan), unit="video", desc="videos", disable=args.quiet, dynamic_ncols=True) as bar:
        def on_progress(p):
            bar.n = p.done
            bar.set_postfix_str(f"{p.frames} frames, {p.frames_per_s:.1f} frames/s, {len(p.active)} workers busy"
                                if p.frames else "starting the workers", refresh=False)
            bar.refresh()

        def on_result(r):
            if not r.ok:
                tqdm.write(f"error: {r.spec}: {r.message}", file=sys.stderr)
            elif not args.quiet:
                tqdm.write(f"{r.spec} -> {r.folder}: {r.message} [{r.worker}, {r.device}]")

        result = run_job_on_ray(plan, partial(detector_on, config), options, cluster, on_progress,
                                on_result)
    if not args.quiet:
        print(format_summary(result))
    if result.failed:
        print(f"{len(result.failed)} of {len(result.results)} videos failed: "
              + "; ".join(f"{r.spec} ({r.message})" for r in result.failed), file=sys.stderr)
    return job_exit_code(result)


MIN_RATE_SPAN_S = 1.0   # the least work time a frame rate is given for


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_summary(result: JobResult) -> str:
    """Per video: frames, fps on its worker, worker, device, tries, status; then the totals."""
    header = ("video", "frames", "fps", "worker", "device", "tries", "status")
    rows = [(r.spec, str(r.frames) if r.ok else "-", f"{r.fps:.1f}" if r.ok else "-", r.worker or "-",
             r.device or "-", str(r.attempts), r.status) for r in result.results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    done = [r for r in result.results if r.ok]
    frames = sum(int((r.summary or {}).get("frames", {}).get("annotated_this_run", 0)) for r in done)
    busy_s = result.wall_s - result.startup_s
    # a rate over less than a second of work says more about the clock than the pool (5 frames "at 52977/s")
    rate = f" at {frames / busy_s:.1f} frames/s" if busy_s >= MIN_RATE_SPAN_S else ""
    total = (f"{len(done)} of {len(result.results)} videos annotated by {plural(result.workers, 'worker')} in "
             f"{result.wall_s:.1f} s ({result.startup_s:.1f} s starting them; then {frames} new frames{rate})")
    return "\n".join([line.format(*header), *(line.format(*row) for row in rows), total])

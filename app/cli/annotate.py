"""`main.py annotate`: videos, folders, cameras and streams in; COCO JSON, MOT, CSV and rendered video out."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from app.cli.annotate_ray import add_ray_options, run_on_ray
from app.cli.options import (EXIT_INTERRUPTED, BATCH, CLASSES, OUT, QUIET, RESUME, THRESHOLD, TRACK, TRACKER, add_model_options,
                             add_tta_options, build_detector, parse_time, with_examples)
from app.cli.outcome import job_exit_code
from app.cli.progress import bars
from centernet.classes import parse_classes
from centernet.io.input_list import read_input_list
from centernet.tracking import DEFAULT_TRACKER
from centernet.io.writers.atomic import remove_if_empty
from centernet.jobs.annotate import AnnotateEvent, AnnotateOptions, parse_formats, plan_job, run_job


EXAMPLES = (
    ("centernet annotate clip.mp4", "COCO JSON and a drawn video in annotated/clip/"),
    ("centernet annotate videos/ --format mot --every 2", "MOTChallenge tracks of every video, every 2nd frame"),
    ("centernet annotate rtsp://cam/1 --duration 10m --format csv", "ten minutes of a stream as CSV"),
    ("centernet annotate --inputs-from list.txt --resume", "a collection, going on where a killed run stopped"),
    ("centernet annotate videos/ --ray", "the collection over a Ray cluster (or a local one)"),
)


def add_parser(sub) -> None:
    p = sub.add_parser("annotate", help="annotate videos, folders, cameras, streams: COCO JSON, MOT, CSV, video",
                       **with_examples(EXAMPLES))
    p.add_argument("inputs", nargs="*", help="video files, image folders, glob patterns, camera indices or URLs")
    p.add_argument("--inputs-from", metavar="FILE",
                   help="also the inputs listed in FILE, one path or URL per line (# comments, blank lines skipped)")
    add_model_options(p)
    OUT.add(p, default=Path("annotated"), help="one folder per input goes here (default: annotated)")
    p.add_argument("--format", default="coco,video",
                   help="comma-separated: coco, mot, csv, video (default: coco,video)")
    THRESHOLD.add(p, default=0.3, help="keep detections scoring at least this (default 0.3)")
    CLASSES.add(p)
    add_tta_options(p)
    p.add_argument("--every", type=int, default=1, help="annotate one frame in N")
    p.add_argument("--start", type=parse_time, help="files: start at this time (10s, 1m30s, 01:30)")
    p.add_argument("--end", type=parse_time, help="files: stop before this time")
    p.add_argument("--duration", type=parse_time,
                   help="cameras and URLs: record this long; files: --end = --start + it")
    BATCH.add(p, default=8, help="frames per forward pass (default 8)")
    p.add_argument("--chunk", type=int, default=64, help="frames per resume checkpoint (default 64)")
    TRACK.add(p, help="give detections track ids (the mot format turns this on)")
    TRACKER.add(p, help=f"with --track / mot: the association (default {DEFAULT_TRACKER}; greedy: CenterTrack's rule)")
    RESUME.add(p, help="continue interrupted output folders")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    QUIET.add(p, help="no progress bars or messages, only errors")
    add_ray_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    options = AnnotateOptions(formats=parse_formats(args.format), every=args.every, start_s=args.start or 0.0,
                              end_s=args.end, duration_s=args.duration, batch=args.batch, chunk=args.chunk,
                              threshold=args.threshold, track=args.track, tracker=args.tracker, resume=args.resume,
                              overwrite=args.overwrite, quiet=args.quiet)
    inputs = list(args.inputs) + (read_input_list(args.inputs_from) if args.inputs_from else [])
    new_out = not args.out.exists()
    said = []   # the events shown: an "interrupted" line already says what Ctrl-C left, main.py need not repeat it

    def show(event: AnnotateEvent) -> None:
        said.append(event.kind)
        show_event(event)

    try:
        if args.ray is not None:
            return run_on_ray(args, options, inputs)
        plan = plan_job(inputs, args.out, options)
        detector = build_detector(args)
        options = replace(options, classes=parse_classes(args.classes, detector.class_names))
        return job_exit_code(run_job(plan, detector, options, show, bars(args.quiet)))
    except KeyboardInterrupt:
        if "interrupted" in said:
            return EXIT_INTERRUPTED
        raise
    finally:
        if new_out:
            remove_if_empty(args.out)   # a run that failed before writing anything leaves no empty --out


def show_event(event: AnnotateEvent) -> None:
    """The job's lines: problems on stderr, the rest on stdout; per-input lines through tqdm (its bars stay
    intact), the closing lines (job done, interrupted) printed plainly."""
    stream = sys.stderr if event.is_problem else sys.stdout
    if event.kind in ("job_done", "interrupted"):
        print(event.text, file=stream)
    else:
        tqdm.write(event.text, file=stream)

"""`main.py detect`: images, folders and globs in; rendered images, COCO results (and KITTI labels) out."""
from __future__ import annotations

import sys
from pathlib import Path

from app.cli.options import (CLASSES, EXIT_OK, EXIT_PARTIAL_FAILURE, EXIT_USER_ERROR, JSON, OUT, QUIET, THRESHOLD,
                             add_calib_option, add_model_options, add_tta_options, detector_config,
                             with_examples)
from centernet.inference.detector import Detector
from centernet.io.sources import collect_images
from centernet.jobs.detect import DetectOptions, ImageResult, check_outputs, detect_images
from centernet.timing import median_times


EXAMPLES = (
    ("centernet detect photo.jpg --out drawn/", "the boxes drawn on a copy of the image"),
    ("centernet detect 'shots/*.png' --json results.json", "COCO-format results of every match"),
    ("centernet detect people/ --classes person --threshold 0.5", "only confident people"),
    ("centernet detect street.jpg --flip --scales 0.75,1,1.25", "test-time augmentation, as the original's"),
)


def add_parser(sub) -> None:
    p = sub.add_parser("detect", help="detect objects in images, folders and globs", **with_examples(EXAMPLES))
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    add_model_options(p)
    THRESHOLD.add(p, help="score threshold: drawing uses 0.3 when not given; the JSON keeps all K unless given")
    CLASSES.add(p)
    OUT.add(p, help="folder for rendered images")
    JSON.add(p, help="write COCO-format results here (multi_pose: keypoints; ddd: 3D fields)")
    p.add_argument("--kitti", type=Path, help="ddd: write one KITTI label file per image here (default: <--out>/kitti)")
    add_tta_options(p)
    add_calib_option(p)
    p.add_argument("--timings", action="store_true", help="print per-stage times per image and medians")
    QUIET.add(p, help="print nothing but errors")
    p.set_defaults(func=run)


def run(args) -> int:
    files = collect_images(args.inputs)
    config = detector_config(args)
    options = DetectOptions(out=args.out, json=args.json, kitti=args.kitti, threshold=args.threshold,
                            classes=args.classes, calib_folder=config.calib_folder)
    check_outputs(options)
    detector = Detector.from_config(config)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))

    def on_image(result: ImageResult) -> None:
        if result.error is not None:
            print(f"error: {result.error}", file=sys.stderr)
        else:
            say(f"{result.path}: {result.shown} detections >= {result.threshold:g}" +
                ("  " + format_times(result.timings) if args.timings else ""))

    report = detect_images(files, options, detector, on_image)
    if report.json_written:
        say(f"wrote {len(report.rows)} results to {report.json_written}")
    if args.timings and report.timings:
        say("median  " + format_times(median_times(report.timings)))
    failed = len(report.failures)
    if failed == len(files):
        return EXIT_USER_ERROR
    return EXIT_PARTIAL_FAILURE if failed else EXIT_OK


def format_times(times: dict) -> str:
    total = sum(times.values())
    return " ".join(f"{k} {v:.1f}ms" for k, v in times.items()) + f" total {total:.1f}ms"

"""`detect`: images in, rendered images and COCO results out (ddd: KITTI label files too)."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

from centernet.io.cameras import camera_for_image
from centernet.errors import CenterNetError, InputError
from centernet.io.render import RenderOptions, draw_detections
from centernet.io.sources import collect_images, read_image
from centernet.timing import median_times
from centernet.io.writers.coco import image_id_for, result_rows
from centernet.io.writers.kitti import write_kitti_labels
from centernet.io.writers.atomic import ensure_writable_dir, write_json_atomic
from centernet.classes import parse_classes

DRAW_THRESHOLD = 0.3


def unique_output_name(path: Path, used: set) -> str:
    """The input's file name, with _1, _2... when two inputs share a name."""
    name, n = path.name, 1
    while name in used:
        name = f"{path.stem}_{n}{path.suffix}"
        n += 1
    used.add(name)
    return name


def write_image(path: Path, image) -> None:
    ok, buf = cv2.imencode(path.suffix if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp") else ".png", image)
    if not ok:
        raise InputError(f"could not encode {path}")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def build_detector(args):
    from centernet.inference.detector import Detector
    calib = getattr(args, "calib", None)
    camera = None
    if calib is not None and not Path(calib).is_dir():
        from centernet.io.cameras import load_camera
        camera = load_camera(calib)
    return Detector.from_checkpoint(args.weights, arch=args.arch, task=args.task, device=args.device,
                                    keep_res=args.keep_res, input_size=args.input_size,
                                    flip=getattr(args, "flip", False), scales=getattr(args, "scales", (1.0,)),
                                    camera=camera, engine=getattr(args, "engine", "auto"),
                                    precision=getattr(args, "precision", "fp32"))


def run_detect(args) -> int:
    files = collect_images(args.inputs)
    if args.out:
        ensure_writable_dir(args.out, "--out")
    if args.json:
        ensure_writable_dir(args.json.parent if str(args.json.parent) else Path("."), "--json")
    detector = build_detector(args)
    kitti_dir = getattr(args, "kitti", None)
    if detector.task == "ddd" and kitti_dir is None and args.out:
        kitti_dir = args.out / "kitti"
    if kitti_dir is not None and detector.task == "ddd":
        ensure_writable_dir(kitti_dir, "--kitti")
    calib = getattr(args, "calib", None)
    calib_folder = calib if calib is not None and Path(calib).is_dir() else None
    classes = parse_classes(args.classes, detector.class_names)
    draw = RenderOptions(threshold=DRAW_THRESHOLD if args.threshold is None else args.threshold, classes=classes)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    rows, timings, failed, used = [], [], 0, set()
    for index, path in enumerate(files):
        try:
            image = read_image(path)
        except CenterNetError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        try:
            camera = camera_for_image(calib_folder, path) if calib_folder is not None else None
        except CenterNetError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        dets = detector(image, camera)
        timings.append(dets.timings)
        kept = dets.only_labels(classes)
        if args.threshold is not None:
            kept = kept.above(args.threshold)
        rows += result_rows(kept, image_id_for(path, index), detector.class_names, path.name)
        out_name = unique_output_name(path, used)
        if kitti_dir is not None and detector.task == "ddd":
            write_kitti_labels(kitti_dir / (Path(out_name).stem + ".txt"), kept, detector.class_names)
        if args.out:
            write_image(args.out / out_name, draw_detections(image, dets, detector.class_names, draw,
                                                             camera=detector.camera if camera is None else camera))
        shown = len(kept.above(draw.threshold))
        say(f"{path}: {shown} detections >= {draw.threshold:g}" +
            ("  " + format_times(dets.timings) if args.timings else ""))
    if args.json:
        write_json_atomic(args.json, rows)
        say(f"wrote {len(rows)} results to {args.json}")
    if args.timings and timings:
        say("median  " + format_times(median_times(timings)))
    if failed == len(files):
        return 2
    return 1 if failed else 0


def format_times(times: dict) -> str:
    total = sum(times.values())
    return " ".join(f"{k} {v:.1f}ms" for k, v in times.items()) + f" total {total:.1f}ms"

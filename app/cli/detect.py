"""`main.py detect`: images, folders and globs in; rendered images, COCO results (and KITTI labels) out."""
from __future__ import annotations

from pathlib import Path

from app.cli.options import add_calib_option, add_model_options, add_tta_options


def add_parser(sub) -> None:
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
    p.set_defaults(func=run)


def run(args) -> int:
    from centernet.jobs.detect import run_detect
    return run_detect(args)

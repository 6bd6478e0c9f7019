"""`detect`: images in, rendered images and COCO results out (ddd: KITTI label files too)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2

from centernet.geometry.cameras import camera_for_image
from centernet.errors import CenterNetError, InputError
from centernet.io.render import RenderOptions, draw_detections
from centernet.io.sources import read_image
from centernet.io.writers.coco import image_id_for, result_rows
from centernet.io.writers.kitti import write_kitti_labels
from centernet.io.writers.atomic import atomic_path, ensure_writable_dir, ensure_writable_file, write_json_atomic
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


def write_image(path: Path, image, fix: str = "free space or choose another --out") -> None:
    """Encode `image` by `path`'s suffix (else PNG) and write it whole; InputError says why not, then `fix`."""
    ok, buf = cv2.imencode(path.suffix if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp") else ".png", image)
    if not ok:
        raise InputError(f"could not encode {path}")
    try:
        with atomic_path(path) as tmp:   # a full disk leaves no orphan .part behind
            tmp.write_bytes(buf.tobytes())
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}; {fix}") from None


@dataclass(frozen=True)
class DetectOptions:
    """What `detect_images` writes and keeps (every path optional)."""

    out: Path | None = None           # folder for the rendered images
    json: Path | None = None          # COCO-format results
    kitti: Path | None = None         # ddd: one KITTI label file per image (default: <out>/kitti)
    threshold: float | None = None    # None: drawing uses DRAW_THRESHOLD and the JSON keeps all K
    classes: str | None = None        # only these classes (names or indices, comma-separated)
    calib_folder: Path | None = None  # ddd: a folder of <image name>.txt calibration files


@dataclass(frozen=True)
class ImageResult:
    """One input image: how many detections were drawn and the stage times, or why it failed."""

    path: Path
    shown: int = 0
    threshold: float = DRAW_THRESHOLD
    timings: dict = field(default_factory=dict)
    error: str | None = None


@dataclass
class DetectReport:
    rows: list = field(default_factory=list)        # COCO result rows (what the JSON holds)
    images: list = field(default_factory=list)      # ImageResult per input, in order
    json_written: Path | None = None

    @property
    def failures(self) -> list:
        return [r for r in self.images if r.error is not None]

    @property
    def timings(self) -> list:
        return [r.timings for r in self.images if r.error is None]


def check_outputs(options: DetectOptions) -> None:
    """Refuse unwritable output folders before a model is loaded."""
    if options.out:
        ensure_writable_dir(options.out, "--out")
    if options.json:
        ensure_writable_file(options.json, "--json")


def detect_images(files: list[Path], options: DetectOptions, detector,
                  on_image: Callable[[ImageResult], None] | None = None) -> DetectReport:
    """Run the detector over image files, writing what `options` asks for; `on_image` hears of each image
    (failures included: a file that cannot be read is reported and skipped)."""
    check_outputs(options)
    kitti_dir = options.kitti
    if detector.task == "ddd" and kitti_dir is None and options.out:
        kitti_dir = options.out / "kitti"
    if kitti_dir is not None and detector.task == "ddd":
        ensure_writable_dir(kitti_dir, "--kitti")
    classes = parse_classes(options.classes, detector.class_names)
    draw = RenderOptions(threshold=DRAW_THRESHOLD if options.threshold is None else options.threshold,
                         classes=classes)
    report, used = DetectReport(), set()
    for index, path in enumerate(files):
        try:
            image = read_image(path)
            camera = camera_for_image(options.calib_folder, path) if options.calib_folder is not None else None
        except CenterNetError as e:
            result = ImageResult(path, error=str(e))
        else:
            dets = detector(image, camera)
            kept = dets.only_labels(classes)
            if options.threshold is not None:
                kept = kept.above(options.threshold)
            report.rows += result_rows(kept, image_id_for(path, index), detector.class_names, path.name)
            out_name = unique_output_name(path, used)
            if kitti_dir is not None and detector.task == "ddd":
                write_kitti_labels(kitti_dir / (Path(out_name).stem + ".txt"), kept, detector.class_names)
            if options.out:
                write_image(options.out / out_name, draw_detections(image, dets, detector.class_names, draw,
                                                                    camera=detector.camera if camera is None else camera))
            result = ImageResult(path, len(kept.above(draw.threshold)), draw.threshold, dets.timings)
        report.images.append(result)
        if on_image is not None:
            on_image(result)
    if options.json and len(report.failures) < len(report.images):
        # nothing succeeded: keep whatever --json held rather than replacing it with []
        try:
            write_json_atomic(options.json, report.rows)
        except OSError as e:
            raise InputError(f"cannot write --json {options.json}: {e.strerror or e}; choose a file you can write") from None
        report.json_written = options.json
    return report

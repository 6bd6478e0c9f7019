"""Where frames come from: image files, folders and globs (videos, cameras and URLs join later)."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def images_in_folder(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise InputError(f"no images in folder {folder} (looked for {', '.join(IMAGE_EXTENSIONS[:5])}, ...)")
    return files


def collect_images(inputs: list[str]) -> list[Path]:
    """Image files from files, folders and glob patterns, in the order given (folders sorted)."""
    if not inputs:
        raise InputError("no input given: name image files, folders or glob patterns")
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if any(ch in item for ch in "*?[") and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file() and is_image_path(m)]
            if not files:
                raise InputError(f"pattern {item!r} matches no image files")
            out.extend(files)
        elif path.is_dir():
            out.extend(images_in_folder(path))
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"input not found: {item} (check the path)")
    return out


def read_image(path: Path) -> np.ndarray:
    """Any image OpenCV reads (grayscale, RGBA, 16-bit included), unchanged; InputError if unreadable."""
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise InputError(f"cannot decode {path}: not an image or corrupt (OpenCV could not read it)")
    return image

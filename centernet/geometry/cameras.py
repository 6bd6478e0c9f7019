"""Cameras for 3D detection: a 3x4 projection matrix P (float32, KITTI's `P2` convention).

`load_camera(path)` reads any of:
- a KITTI calib file (lines `P0: ...` to `P3: ...`, `R0_rect: ...`): its `P2`;
- a JSON file: `{"fx": ..., "fy": ..., "cx": ..., "cy": ...}` or `{"P": [[...] x 3]}` (3x4, or 12 numbers);
- a plain text file of 16 numbers (a 4x4 row-major matrix: its first three rows), 12 (3x4) or 9 (3x3 K).
Without a file the original's default camera (KITTI's P2 of its training split) is used.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from centernet.errors import InputError

# The original's camera when none is given.
DEFAULT_CAMERA = np.array([[707.0493, 0.0, 604.0814, 45.75831],
                           [0.0, 707.0493, 180.5066, -0.3454157],
                           [0.0, 0.0, 1.0, 0.004981016]], dtype=np.float32)

KITTI_CAMERA_KEY = "P2"


def camera_from_intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """P = [K | 0] for a pinhole camera."""
    return np.array([[fx, 0.0, cx, 0.0], [0.0, fy, cy, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype=np.float32)


def as_camera(values, source: str = "camera") -> np.ndarray:
    """12 numbers (3x4), 16 (4x4, first three rows) or 9 (3x3 K) -> a 3x4 float32 P."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{source}: the camera matrix must be numbers") from None
    if arr.size == 16:
        arr = arr.reshape(4, 4)[:3]
    elif arr.size == 9:
        arr = np.concatenate([arr.reshape(3, 3), np.zeros((3, 1))], axis=1)
    elif arr.size == 12:
        arr = arr.reshape(3, 4)
    else:
        raise InputError(f"{source}: expected a 3x4 matrix (12 numbers), a 4x4 (16) or a 3x3 K (9), "
                         f"got {arr.size} numbers")
    if not np.all(np.isfinite(arr)) or arr[0, 0] <= 0 or arr[1, 1] <= 0:
        raise InputError(f"{source}: the focal lengths P[0][0] and P[1][1] must be positive numbers")
    return arr.astype(np.float32)


def parse_kitti_calib(text: str, key: str = KITTI_CAMERA_KEY) -> dict[str, np.ndarray] | None:
    """Every `NAME: numbers` line of a KITTI calib file, or None when the text has no such lines."""
    entries = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() and not name.strip().startswith(("{", "[", '"')):
            try:
                entries[name.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
            except ValueError:
                return None
    return entries or None


def load_camera(path: str | Path) -> np.ndarray:
    """The 3x4 float32 projection matrix stored in a KITTI calib, intrinsics JSON or matrix text file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"camera file not found: {path} (give a KITTI calib .txt, an intrinsics .json "
                         f"or a matrix file)")
    text = path.read_text(errors="replace")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return _camera_from_json(stripped, path)
    kitti = parse_kitti_calib(text)
    if kitti is not None:
        if KITTI_CAMERA_KEY not in kitti:
            raise InputError(f"{path}: a KITTI calib file without a {KITTI_CAMERA_KEY} line (found {', '.join(kitti)})")
        return as_camera(kitti[KITTI_CAMERA_KEY], f"{path} ({KITTI_CAMERA_KEY})")
    try:
        numbers = [float(v) for v in stripped.replace(",", " ").split()]
    except ValueError:
        raise InputError(f"{path}: not a camera file (expected a KITTI calib, a JSON or "
                         f"whitespace-separated numbers)") from None
    return as_camera(numbers, str(path))


def _camera_from_json(text: str, path: Path) -> np.ndarray:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None
    if isinstance(obj, dict) and all(k in obj for k in ("fx", "fy", "cx", "cy")):
        try:
            return as_camera(camera_from_intrinsics(*(float(obj[k]) for k in ("fx", "fy", "cx", "cy"))), str(path))
        except (TypeError, ValueError):
            raise InputError(f"{path}: fx, fy, cx and cy must be numbers") from None
    if isinstance(obj, dict):
        for key in ("P", "P2", "K"):
            if key in obj:
                return as_camera(obj[key], f"{path} ({key})")
        raise InputError(f"{path}: expected keys fx, fy, cx, cy or a matrix under \"P\" "
                         f"(found {', '.join(obj) or 'none'})")
    return as_camera(obj, str(path))


def camera_for_image(calib: str | Path | None, image_path: str | Path | None = None) -> np.ndarray:
    """The camera for one image: `calib` a file, or a folder holding `<image stem>.txt` (KITTI's
    calib/ beside image_2/); the default camera when calib is None."""
    if calib is None:
        return DEFAULT_CAMERA
    calib = Path(calib)
    if calib.is_dir():
        if image_path is None:
            raise InputError(f"--calib {calib} is a folder: it needs image file names to find <name>.txt")
        stem = Path(image_path).stem
        candidates = [calib / f"{stem}{ext}" for ext in (".txt", ".json")]
        for c in candidates:
            if c.is_file():
                return load_camera(c)
        raise InputError(f"no camera file for {Path(image_path).name} in {calib} (looked for {stem}.txt, {stem}.json)")
    return load_camera(calib)

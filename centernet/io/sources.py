"""Where frames come from: image files, folders and globs, video files, cameras and stream URLs."""
from __future__ import annotations

import glob
import os
import time
from pathlib import Path

import cv2
import numpy as np

from centernet.errors import InputError
from centernet.geometry.transforms import as_bgr_uint8

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")
CAMERA_LIST_HINT = "list them with `main.py gui --list-cameras`"   # the window shows its own way instead


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def images_in_folder(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise InputError(f"no images in folder {folder} (looked for {', '.join(IMAGE_EXTENSIONS[:5])}, ...)")
    return files


def frames_spread_over(path: Path, count: int) -> list[np.ndarray]:
    """Up to `count` frames spread evenly over a video (its first frames are often empty titles or
    scenery); all of them when it has no more; [] when OpenCV cannot read it."""
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    wanted = set(np.linspace(0, total - 1, count).round().astype(int).tolist()) if total > count else None
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        if wanted is None or index in wanted:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


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


def check_readable(path: Path) -> None:
    """InputError saying "permission denied" (not "cannot decode") for a file this process may not read."""
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied; make it readable (chmod +r) or run as a user "
                         f"who may read it") from None


def read_image(path: Path) -> np.ndarray:
    """Any image OpenCV reads (grayscale, RGBA, 16-bit included), unchanged; InputError if unreadable."""
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise InputError(f"cannot decode {path}: not an image or corrupt (OpenCV could not read it)")
    return image


# ---- frame sources: camera, video file, stream URL, image folder, single image -------------------

from dataclasses import dataclass  # noqa: E402


@dataclass
class Frame:
    """One frame: BGR uint8 image, 0-based index in its source, timestamp from the container (ms)."""

    image: np.ndarray
    index: int
    timestamp_ms: float


def source_kind(spec: str | int) -> str:
    """'camera', 'stream', 'folder', 'image' or 'video' for a source given on the command line."""
    text = str(spec)
    if isinstance(spec, int) or text.isdigit():
        return "camera"
    if "://" in text:
        return "stream"
    path = Path(text)
    if path.is_dir():
        return "folder"
    if is_image_path(path):
        return "image"
    return "video"


# A stream that stays connected but stops sending would block a read for FFmpeg's interrupt timeout
# (OpenCV's default: 30 s). These bound opening a URL and each read; a read that times out returns
# no frame, so a stalled stream ends like a closed one (the app then reconnects). OpenCV's FFmpeg
# backend honours both (checked with opencv 5.0.0: a stalled read ends after the timeout, not 30 s),
# so no watchdog thread is needed. A stream slower than one frame per read timeout counts as ended.
STREAM_OPEN_TIMEOUT_S = 10.0
STREAM_READ_TIMEOUT_S = 5.0


def stream_open_params(open_timeout_s: float, read_timeout_s: float) -> list[int]:
    """cv2.VideoCapture open parameters that bound opening a URL and each read (milliseconds)."""
    return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, max(1, round(open_timeout_s * 1000)),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, max(1, round(read_timeout_s * 1000))]


class FrameSource:
    """Frames from any source, one at a time; `read()` returns None at the end.

    Video files give the container's timestamps (variable frame rate stays right); frames that fail
    to decode in the middle of a file are skipped and counted in `skipped`. Image folders and single
    images play as a sequence at `fps` (default 25). A URL that sends nothing for `read_timeout_s`
    has ended (see STREAM_READ_TIMEOUT_S).
    """

    MAX_CONSECUTIVE_BAD = 25  # a file whose frames stop decoding for this long has ended

    def __init__(self, spec: str | int, image_fps: float = 25.0, open_timeout_s: float = STREAM_OPEN_TIMEOUT_S,
                 read_timeout_s: float = STREAM_READ_TIMEOUT_S):
        self.spec = spec
        self.kind = source_kind(spec)
        self.skipped = 0
        self.skip_reasons: dict[str, int] = {}
        self._next = 0
        self._cap = None
        self._files: list[Path] = []
        self.arrived_at = 0.0   # perf_counter when the last frame had arrived (before it was decoded)
        if self.kind in ("folder", "image"):
            path = Path(str(spec))
            if self.kind == "image" and not path.is_file():
                raise InputError(f"input not found: {spec} (check the path)")
            self._files = images_in_folder(path) if self.kind == "folder" else [path]
            self.fps = image_fps
            first = read_image(self._files[0])
            self.size = (first.shape[1], first.shape[0])
            self.frame_count = len(self._files)
            return
        if self.kind == "video" and not Path(str(spec)).is_file():
            raise InputError(f"input not found: {spec} (check the path)")
        if self.kind == "video":
            check_readable(Path(str(spec)))   # OpenCV would call an unreadable file "not a video"
        target = int(spec) if self.kind == "camera" else str(spec)
        if self.kind == "camera":
            cap = cv2.VideoCapture(target)
        elif self.kind == "stream":
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, stream_open_params(open_timeout_s, read_timeout_s))
        else:
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            hint = {"camera": f"no camera with that index ({CAMERA_LIST_HINT})",
                    "stream": f"the URL is unreachable, not a video stream, or sent no frame within "
                              f"{open_timeout_s:g} s",
                    "video": "not a video OpenCV can decode"}[self.kind]
            raise InputError(f"cannot open {self.kind} {spec}: {hint}")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else 25.0
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if self.kind == "video" and count > 0 else None

    @property
    def is_live(self) -> bool:
        return self.kind in ("camera", "stream")

    @property
    def seekable(self) -> bool:
        return self.kind in ("video", "folder", "image")

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def read(self) -> Frame | None:
        if self._files:
            while self._next < len(self._files):
                i = self._next
                self._next += 1
                try:
                    image = as_bgr(read_image(self._files[i]))
                except InputError:
                    self._skip("unreadable image")
                    continue
                return Frame(image, i, i * 1000.0 / self.fps)
            return None
        if self._cap is None:
            return None
        bad = 0
        while True:
            ok = self._cap.grab()
            self.arrived_at = time.perf_counter()   # the frame is here: what follows is decoding, not waiting
            ok, image = self._cap.retrieve() if ok else (False, None)
            if ok and image is not None:
                index = self._next
                self._next += 1
                ts = self._cap.get(cv2.CAP_PROP_POS_MSEC) if self.kind == "video" else None
                if ts is None or ts < 0 or (ts == 0 and index > 0):
                    ts = index * 1000.0 / self.fps
                return Frame(image, index, float(ts))
            # a failed read before the known end is a corrupt frame: skip it and try the next one
            before_end = self.kind == "video" and self.frame_count and self._next < self.frame_count
            if before_end and bad < self.MAX_CONSECUTIVE_BAD:
                bad += 1
                self._next += 1
                self._skip("undecodable frame")
                continue
            if bad and self.kind == "video":
                self.truncated_at = self._next - bad
            return None

    def seek(self, index: int) -> None:
        if not self.seekable:
            return
        index = max(0, int(index))
        if self.frame_count is not None:
            index = min(index, max(self.frame_count - 1, 0))
        self._next = index
        if self._cap is not None:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)

    @property
    def position(self) -> int:
        return self._next

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_bgr(image: np.ndarray) -> np.ndarray:
    return as_bgr_uint8(image)


CAMERAS_PROBED = 8   # camera indices 0..7: what `list_cameras` tries (the window's ⟳ and `gui --list-cameras`)


def list_cameras(max_index: int = CAMERAS_PROBED) -> list[int]:
    """Indices of cameras OpenCV can open (probes 0..max_index-1)."""
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            found.append(i)
        cap.release()
    return found

"""Rendered MP4 files (OpenCV's `mp4v`), written under a temporary name and renamed when closed."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from centernet.errors import InputError
from centernet.io.writers.atomic import temp_path_for

FOURCC = "mp4v"


class VideoFileWriter:
    """Frames in, `path` out: the file appears only at `close()`; `abort()` leaves nothing behind.

    The frame size is fixed by the first frame (or `size`); a frame of another size (image folders
    of mixed sizes) is resized to it.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int] | None = None):
        self.path = Path(path)
        self.tmp = temp_path_for(self.path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.size = size
        self.frames = 0
        self._writer = None

    def _open(self, size: tuple[int, int]) -> None:
        self.tmp.unlink(missing_ok=True)
        writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*FOURCC), self.fps, size)
        if not writer.isOpened():
            raise InputError(f"cannot write video {self.path}: OpenCV has no {FOURCC} encoder or the folder "
                             f"is not writable")
        self.size, self._writer = size, writer

    def write(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if self._writer is None:
            self._open(self.size or (w, h))
        if (w, h) != tuple(self.size):
            image = cv2.resize(image, tuple(self.size), interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> bool:
        """Finish the file and move it into place; False (and no file) when no frame was written."""
        if self._writer is None:
            return False
        self._writer.release()
        self._writer = None
        os.replace(self.tmp, self.path)
        return True

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self.tmp.unlink(missing_ok=True)

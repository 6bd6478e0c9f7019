"""Record the rendered stream to MP4 at the source's frame rate (frames the model skipped are repeated)."""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from centernet.errors import InputError


class Recorder:
    """`write(image, frame_index)` from the inference thread; `close()` from any thread.

    Written at the source's fps: when the model skipped source frames, the last rendered frame is
    repeated for them (at most `max_repeat` times), so the video keeps the source's timing.
    """

    def __init__(self, path: str | Path, fps: float, max_repeat: int = 30):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.max_repeat = max_repeat
        self.frames = 0
        self._writer = None
        self._size = None
        self._last_index = None
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot record to {self.path}: {e.strerror or e}") from None

    def write(self, image: np.ndarray, frame_index: int) -> None:
        with self._lock:
            if self._writer is None:
                if self._size is not None:
                    return   # closed
                h, w = image.shape[:2]
                self._size = (w, h)
                self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                if not self._writer.isOpened():
                    self._writer = None
                    raise InputError(f"cannot record to {self.path}: OpenCV could not open an MP4 writer there")
            if (image.shape[1], image.shape[0]) != self._size:
                image = cv2.resize(image, self._size)
            repeat = 1
            if self._last_index is not None and frame_index > self._last_index:
                repeat = min(frame_index - self._last_index, self.max_repeat)
            self._last_index = frame_index
            for _ in range(repeat):
                self._writer.write(image)
                self.frames += 1

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.release()
                self._writer = None
            self._size = self._size or (0, 0)

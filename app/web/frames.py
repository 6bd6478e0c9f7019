"""One stream's newest picture for the browser view: "latest frame wins", JPEG-encoded lazily.

The pipeline's `publish` only swaps a reference under a lock and notifies (it never encodes and never waits
for a client). Each client's serving thread asks for the newest frame newer than the one it sent last; the
first to ask encodes it (outside the lock) and every other client watching gets the same bytes, so a frame is
encoded at most once, and only while somebody watches. Frames a slow client could not take are skipped.
"""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np


class FrameSlot:
    def __init__(self, quality: int = 80):
        self.quality = quality
        self.cond = threading.Condition()
        self.image: np.ndarray | None = None   # the newest published picture (BGR; never changed after publish)
        self.seq = 0                           # pictures published so far
        self.jpeg: bytes | None = None         # the encoding of picture `jpeg_seq`
        self.jpeg_seq = 0
        self.encoding_seq = 0                  # the picture a client is encoding now (0: none)
        self.encoded = 0                       # pictures encoded so far (at most one encode per picture)
        self.watchers = 0                      # clients serving this stream now
        self.closed = False

    def publish(self, image: np.ndarray) -> None:
        """The newest picture replaces the last (the caller must not change it afterwards)."""
        with self.cond:
            self.image = image
            self.seq += 1
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def next_jpeg(self, after: int, timeout_s: float) -> tuple[int, bytes] | None:
        """(seq, JPEG) of the newest picture newer than `after`; None when none came within `timeout_s` or the
        slot closed."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                if self.closed:
                    return None
                if self.seq > after and self.jpeg_seq == self.seq:
                    return self.jpeg_seq, self.jpeg
                if self.seq > after and self.encoding_seq != self.seq:
                    seq, image = self.seq, self.image
                    self.encoding_seq = seq
                    break
                left = deadline - time.monotonic()   # nothing new yet, or another client is encoding it
                if left <= 0:
                    return None
                self.cond.wait(left)
        jpeg = None
        try:
            jpeg = encode_jpeg(image, self.quality)   # outside the lock: publish and other clients go on
        finally:
            with self.cond:
                if jpeg is not None:
                    self.encoded += 1
                    if seq > self.jpeg_seq:
                        self.jpeg, self.jpeg_seq = jpeg, seq
                if self.encoding_seq == seq:
                    self.encoding_seq = 0
                self.cond.notify_all()
        return seq, jpeg


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} picture as JPEG")
    return data.tobytes()

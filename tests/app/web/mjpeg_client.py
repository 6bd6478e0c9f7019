"""A plain HTTP client for the browser-view tests: GET a path, read N parts of an MJPEG stream (no proxies)."""
from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import cv2
import numpy as np


def get(url: str, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """(status, content type, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def read_jpegs(url: str, count: int, timeout: float = 30.0) -> list[bytes]:
    """The first `count` JPEG parts of a multipart/x-mixed-replace stream, checked part by part."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        assert response.status == 200, response.status
        content_type = response.getheader("Content-Type")
        assert content_type.startswith("multipart/x-mixed-replace; boundary="), content_type
        boundary = b"--" + content_type.split("boundary=", 1)[1].encode()
        jpegs = []
        while len(jpegs) < count:
            assert time.monotonic() < deadline, f"only {len(jpegs)} of {count} parts within {timeout} s"
            line = response.fp.readline().strip()
            if not line:
                continue
            assert line == boundary, line
            headers = {}
            while (header := response.fp.readline().strip()):
                name, _, value = header.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            assert headers["content-type"] == "image/jpeg", headers
            jpegs.append(response.fp.read(int(headers["content-length"])))
        return jpegs
    finally:
        conn.close()


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image

"""Keep FFmpeg's and OpenCV's own log lines off stderr: a stream that keeps failing printed one FFmpeg
line per reconnect attempt ("Connection refused", "moov atom not found", "cap.cpp:212 ..."), burying the
one line the front end prints. Our messages say what failed; `verbose` keeps the libraries' text."""
from __future__ import annotations

import os

import cv2

FFMPEG_QUIET = "-8"   # AV_LOG_QUIET; OpenCV reads OPENCV_FFMPEG_LOGLEVEL when its FFmpeg backend first opens


def quiet_video_logs() -> None:
    """Silence FFmpeg (unless the user set its level) and OpenCV's warnings for this process."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", FFMPEG_QUIET)
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:   # an OpenCV build without the logging module: nothing to quiet
        pass

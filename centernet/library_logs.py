"""What the libraries under us print on their own: FFmpeg's decoder complaints ("moov atom not found", one
per damaged frame), OpenCV's backend warnings ("cap.cpp:212 ..."), Ray's start-up notes. A user of the
command line should see our one line about the problem; their text stays available behind `--verbose`.
Ray takes its level where it starts (`ClusterOptions.verbose`); this sets FFmpeg's and OpenCV's.
"""
from __future__ import annotations

import os

import cv2

AV_LOG_QUIET, AV_LOG_INFO = -8, 32   # FFmpeg's av_log levels


def route_library_logs(verbose: bool = False) -> None:
    """Hide (or, verbose, show) FFmpeg's and OpenCV's own messages. Call before the first video is opened:
    OpenCV reads FFmpeg's level once, when its FFmpeg backend starts (from the environment, so processes
    started from this one inherit it). Hiding keeps a level the user set in the environment
    (OPENCV_FFMPEG_LOGLEVEL, OPENCV_LOG_LEVEL); verbose always shows."""
    levels = cv2.utils.logging
    if verbose:
        os.environ["OPENCV_FFMPEG_LOGLEVEL"] = str(AV_LOG_INFO)
        levels.setLogLevel(levels.LOG_LEVEL_INFO)
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", str(AV_LOG_QUIET))
    if "OPENCV_LOG_LEVEL" not in os.environ:
        levels.setLogLevel(levels.LOG_LEVEL_SILENT)

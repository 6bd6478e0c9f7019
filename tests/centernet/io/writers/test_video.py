"""Rendered MP4s: OpenCV plays them back with the frames, size and rate written; nothing half-written."""
import cv2
import numpy as np
import pytest

from centernet.io.writers.video import VideoFileWriter


def test_written_video_reads_back_with_count_size_and_fps(tmp_path):
    path = tmp_path / "v.mp4"
    w = VideoFileWriter(path, fps=12.5)
    for i in range(7):
        w.write(np.full((90, 160, 3), i * 30, np.uint8))
        assert not path.exists()  # only the temporary file exists until close
    assert w.close()
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 90)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)
    frames = []
    while (ok := cap.read())[0]:
        frames.append(ok[1])
    assert len(frames) == 7 and abs(float(frames[3].mean()) - 90) < 3
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_frames_of_another_size_are_resized_and_abort_leaves_nothing(tmp_path):
    w = VideoFileWriter(tmp_path / "v.mp4", fps=25)
    w.write(np.zeros((64, 96, 3), np.uint8))
    w.write(np.zeros((128, 128, 3), np.uint8))
    assert w.frames == 2
    w.abort()
    assert list(tmp_path.iterdir()) == []
    assert VideoFileWriter(tmp_path / "e.mp4", fps=25).close() is False

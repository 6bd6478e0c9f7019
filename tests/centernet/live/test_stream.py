"""`centernet.live.stream` on real files, a folder and a real local MJPEG stream: results, errors, shutdown."""
from __future__ import annotations

import gc
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from centernet.detections import Detections
from centernet.errors import ConfigError, InputError, SourceError
from centernet.inference.config import DetectorConfig
from centernet.inference.detector import Detector
from centernet.live import StreamOptions, draw_result, stream
from centernet.live.stream import Stream
from tests.app.conftest import closed_port
from tests.stream_server import MJPEGServer


def assert_stopped(results: Stream) -> None:
    """No thread the stream started is alive (daemon threads included)."""
    assert results.threads and not results.alive_threads, results.alive_threads
    assert not [t for t in threading.enumerate() if t in results.threads]


def test_file_as_fast_as_the_model_gives_every_frame_inferred(bikes, small_detector):
    with stream(bikes, detector=small_detector, realtime=False, threshold=0.0) as results:
        got = []
        for r in results:
            got.append(r)
            if len(got) == 12:
                break
    assert_stopped(results)
    assert [r.frame_index for r in got] == list(range(12))
    assert all(r.inferred and r.overlay_age_ms == 0.0 and r.dropped == 0 for r in got)
    first = got[0]
    assert first.stream == 0 and first.image.dtype == np.uint8 and first.image.shape == (272, 640, 3)
    assert isinstance(first.detections, Detections) and len(first.detections) > 0   # threshold 0: every peak
    assert first.track_ids is None and "net" in first.timings
    assert got[1].timestamp_ms > first.timestamp_ms
    drawn = draw_result(first, small_detector.class_names)
    assert drawn.shape == first.image.shape and not np.array_equal(drawn, first.image)
    assert np.array_equal(first.image, cv2.VideoCapture(str(bikes)).read()[1])   # the frame itself, not drawn on


class PacedDetector:
    """A model whose speed the test controls: the small detector's output on the clip's first frame, given again at
    once, but every third run takes 100 ms (2.5 frame periods). So some frames shown are ones the model ran on (a
    run that ends before the next frame is due, 40 ms at 25 fps, which a real forward pass on a loaded 2-core
    machine often does not) and some are shown with an older run's detections."""

    def __init__(self, detector, image):
        self._detector = detector
        self.dets = detector(image)
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        if self.calls % 3 == 0:
            time.sleep(0.1)
        return self.dets

    def __getattr__(self, name):
        return getattr(self._detector, name)


def test_real_time_shows_every_frame_at_the_source_rate(bikes, small_detector):
    model = PacedDetector(small_detector, cv2.VideoCapture(str(bikes)).read()[1])
    assert len(model.dets) > 0      # there are boxes to track and to show on the frames the model skipped
    with stream(bikes, detector=model, track=True) as results:
        got = [r for _, r in zip(range(30), results)]
    assert_stopped(results)
    indices = [r.frame_index for r in got]
    assert indices == sorted(indices) and indices[-1] - indices[0] + 1 - len(got) == got[-1].dropped
    span_s = (got[-1].timestamp_ms - got[0].timestamp_ms) / 1000.0
    assert span_s == pytest.approx((len(got) - 1 + got[-1].dropped) / 25.0, abs=0.05)   # 25 fps clip
    later = [r for r in got if r.overlay_age_ms is not None]
    assert later and any(r.inferred for r in later) and any(not r.inferred for r in later)
    assert all(r.track_ids is not None and len(r.track_ids) == len(r.detections) for r in later)
    assert all((r.overlay_age_ms == 0.0) == r.inferred for r in later)


def test_a_folder_gives_one_result_per_image(tmp_path, bikes, small_detector):
    cap = cv2.VideoCapture(str(bikes))
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:02d}.jpg"), cap.read()[1])
    (tmp_path / "notes.txt").write_text("not an image")
    with stream(tmp_path, detector=small_detector, realtime=False) as results:
        fast = list(results)
    assert [r.frame_index for r in fast] == [0, 1, 2] and all(r.inferred for r in fast)
    options = StreamOptions(folder_dwell_s=0.3, motion=False)
    started = time.monotonic()
    with stream(tmp_path, detector=small_detector, options=options) as results:
        dwelt = list(results)
    assert [r.frame_index for r in dwelt] == [0, 1, 2]
    assert time.monotonic() - started >= 0.55             # each image stayed its dwell time
    assert [r.timestamp_ms for r in dwelt] == pytest.approx([0.0, 300.0, 600.0])
    assert_stopped(results)


def test_a_single_image_gives_one_result(tmp_path, bikes, small_detector):
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), cv2.VideoCapture(str(bikes)).read()[1])
    with stream(image, detector=small_detector) as results:
        got = list(results)
    assert len(got) == 1 and got[0].inferred and got[0].image.shape == (272, 640, 3)


def test_classes_by_name_or_index_keep_only_those_and_an_unknown_name_fails_before_any_thread(tmp_path, bikes,
                                                                                              small_detector):
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), cv2.VideoCapture(str(bikes)).read()[1])
    names = small_detector.class_names

    def labels(classes) -> set:
        with stream(image, detector=small_detector, threshold=0.0, classes=classes) as results:
            (r,) = list(results)
        return set(r.detections.labels.tolist())

    every = sorted(labels(None))     # threshold 0: the top 100 peaks of the seeded model, of many classes
    assert len(every) > 2
    a, b = every[:2]
    assert labels([names[a], names[b].upper()]) == {a, b}
    assert labels([a]) == labels(names[a]) == labels(f"{names[a]}, {b}") - {b} == {a}
    before = set(threading.enumerate())
    with pytest.raises(InputError, match="unknown class 'persn'"):
        stream(image, detector=small_detector, classes=["persn"])
    with pytest.raises(ConfigError, match="names no class"):
        stream(image, detector=small_detector, classes=[])
    assert set(threading.enumerate()) == before


def test_with_no_model_given_the_shipped_one_runs_at_the_windows_precision(tmp_path, bikes):
    image = tmp_path / "one.png"
    clip = cv2.VideoCapture(str(bikes))
    clip.set(cv2.CAP_PROP_POS_FRAMES, 120)    # a cyclist and a motorbike
    cv2.imwrite(str(image), clip.read()[1])
    with stream(image) as results:
        (r,) = list(results)
    window = Detector.from_config(DetectorConfig(precision="auto"))    # what `main.py gui` loads by default
    assert results.detector.backend.precision == window.backend.precision
    assert results.detector.info.arch == window.info.arch and len(r.detections) > 0   # real objects on the clip


def test_mjpeg_stream_then_break_stops_every_thread(bikes, small_detector):
    model = PacedDetector(small_detector, cv2.VideoCapture(str(bikes)).read()[1])   # some runs end within a frame
    server = MJPEGServer().start()
    try:
        with stream(server.url, detector=model) as results:
            got = []
            for r in results:
                got.append(r)
                if len(got) == 8:
                    break
            assert results.info.kind == "stream"
        stopped_at = time.monotonic()
        assert_stopped(results)
    finally:
        server.stop()
    assert time.monotonic() - stopped_at < 1.0
    assert got[0].image.shape == (120, 160, 3)
    assert [r.frame_index for r in got] == sorted(r.frame_index for r in got)
    assert any(r.inferred for r in got)


def test_a_loop_left_by_an_exception_stops_every_thread(bikes, small_detector):
    results = stream(bikes, detector=small_detector)
    with pytest.raises(RuntimeError, match="user code"):
        with results:
            for r in results:
                raise RuntimeError("user code")
    assert_stopped(results)


def test_a_missing_file_fails_at_once(tmp_path, small_detector):
    with pytest.raises(InputError, match="input not found"):
        stream(tmp_path / "missing.mp4", detector=small_detector)


def test_no_source_is_a_config_error_before_a_model_loads_and_leaves_no_noise(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("a model was loaded for a stream with no source")
    monkeypatch.setattr(Detector, "from_config", load)
    unraisable = []    # what Python would print as "Exception ignored in ... __del__"
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    for make in (lambda: stream([]), lambda: Stream([], detector=None)):
        try:
            make()
        except ConfigError as e:
            assert "no source given" in str(e)
        else:
            pytest.fail("no error for an empty list of sources")
    gc.collect()
    assert unraisable == []


def test_a_local_file_that_is_not_a_video_fails_at_once(tmp_path, small_detector):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    started = time.monotonic()
    with pytest.raises(InputError, match="junk.mp4"):
        with stream(junk, detector=small_detector) as results:
            list(results)
    assert time.monotonic() - started < 5.0    # no retries
    assert_stopped(results)


def test_an_unreachable_stream_is_a_typed_error_after_the_connect_timeout(small_detector):
    events = []
    options = StreamOptions(connect_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(SourceError, match="no frame from http://127.0.0.1"):
        with stream(f"http://127.0.0.1:{closed_port()}/x.mjpg", detector=small_detector, options=options,
                    on_event=events.append) as results:
            list(results)
    assert 1.5 < time.monotonic() - started < 12.0
    assert any("reconnect" in e.message for e in events)
    assert_stopped(results)


def test_a_dropped_stream_reconnects_and_goes_on(small_detector):
    server = MJPEGServer().start()
    events = []
    try:
        with stream(server.url, detector=small_detector, on_event=events.append,
                    options=StreamOptions(connect_timeout_s=2.0)) as results:
            first = [r for _, r in zip(range(5), results)]
            server.stop()
            time.sleep(3.0)                 # past the connect timeout: a stream that worked keeps reconnecting
            server.start()
            after = [r for _, r in zip(range(5), results)]
        assert_stopped(results)
    finally:
        server.stop()
    assert after[0].frame_index > first[-1].frame_index
    assert any("reconnected" in e.message for e in events)


def test_hold_shows_only_the_frames_the_model_ran_on(bikes, small_detector):
    with stream(bikes, detector=small_detector, hold=True) as results:
        got = [r for _, r in zip(range(10), results)]
    assert_stopped(results)
    assert all(r.inferred and r.overlay_age_ms == 0.0 for r in got)
    indices = [r.frame_index for r in got]
    assert indices == sorted(set(indices))
    assert got[-1].dropped == indices[-1] + 1 - len(got)      # the frames never shown are counted


def test_a_looping_clip_starts_again(tmp_path, bikes, small_detector):
    cap, clip = cv2.VideoCapture(str(bikes)), tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 272))
    for _ in range(5):
        writer.write(cap.read()[1])
    writer.release()
    with stream(clip, detector=small_detector, realtime=False, loop=True) as results:
        indices = [r.frame_index for _, r in zip(range(12), results)]
    assert indices == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]

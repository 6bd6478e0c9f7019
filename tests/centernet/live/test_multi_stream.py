"""Several sources through one `centernet.live.stream`: real files, a folder, real local MJPEG streams; per-stream
failure, stall and rejoin; fairness; batching where the backend prefers it."""
from __future__ import annotations

import threading
import time
from collections import Counter

import cv2
import pytest

from centernet.errors import ConfigError
from centernet.live import StreamOptions, stream
from centernet.live.stream import Stream
from tests.app.conftest import closed_port
from tests.centernet.live.helpers import Slowed, image_folder
from tests.stream_server import MJPEGServer


def take_for(results: Stream, seconds: float) -> list:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = results.poll(0.1)
        if r is not None:
            got.append(r)
        elif results.ended:
            break
    return got


def assert_stopped(results: Stream) -> None:
    assert results.threads and not results.alive_threads, results.alive_threads


def test_two_sources_a_file_and_a_folder_each_give_their_own_results(tmp_path, bikes, small_detector):
    folder = image_folder(tmp_path / "images", bikes)
    with stream([bikes, folder], detector=small_detector, realtime=False, threshold=0.0) as results:
        got = list(results)
    assert_stopped(results)
    by_stream = {i: [r.frame_index for r in got if r.stream == i] for i in (0, 1)}
    assert by_stream[1] == [0, 1, 2]                                # every image of the folder, in order
    assert by_stream[0] == list(range(len(by_stream[0]))) and len(by_stream[0]) > 100   # every frame of the clip
    assert all(r.inferred for r in got)
    assert {r.image.shape for r in got if r.stream == 1} == {(272, 640, 3)}
    assert results.inferences == results.inferences_of(0) + results.inferences_of(1) == len(got)
    assert [s.phase for s in results.statuses] == ["ended", "ended"]
    assert [i.kind for i in results.infos] == ["video", "folder"]


def test_four_sources_files_folder_and_mjpeg_all_play_in_real_time(tmp_path, bikes, small_detector):
    folder = image_folder(tmp_path / "images", bikes)
    server = MJPEGServer(fps=15).start()
    try:
        with stream([bikes, bikes, folder, server.url], detector=small_detector, loop=True,
                    options=StreamOptions(loop=True, folder_dwell_s=0.2)) as results:
            got = take_for(results, 4.0)
            runs = [results.inferences_of(i) for i in range(4)]
        assert_stopped(results)
    finally:
        server.stop()
    assert min(runs) > 0, runs                        # the one model served every stream
    shown = Counter(r.stream for r in got)
    assert set(shown) == {0, 1, 2, 3}, shown
    assert shown[0] >= 40 and shown[1] >= 40          # 25 fps clips for ~3 s each, every frame shown
    assert shown[2] >= 5 and shown[3] >= 10
    for i in range(4):
        indices = [r.frame_index for r in got if r.stream == i]
        assert any(r.overlay_age_ms is not None for r in got if r.stream == i)   # shown with its model output
        if i != 2:   # the folder loops: its indices start again
            assert indices == sorted(indices)
    assert {r.image.shape for r in got if r.stream == 3} == {(120, 160, 3)}


def test_a_source_that_never_connects_is_reported_alone_and_the_others_keep_their_results(bikes, small_detector):
    events = []
    options = StreamOptions(connect_timeout_s=1.5, loop=True)
    with stream([bikes, f"http://127.0.0.1:{closed_port()}/x.mjpg"], detector=small_detector, options=options,
                on_event=events.append) as results:
        got = take_for(results, 7.0)
        failed_at = [e for e in events if e.kind == "failed"]
        status, other = results.status(1), results.status(0)
    assert_stopped(results)
    assert len(failed_at) == 1 and failed_at[0].stream == 1 and "no frame from http://127.0.0.1" in failed_at[0].message
    assert status.phase == "failed" and not status.played and "no frame" in status.error
    assert {r.stream for r in got} == {0}
    assert len(got) >= 100                       # ~7 s of a 25 fps clip: it never waited for the dead one
    assert other.phase == "playing" and other.played


def test_a_stalled_stream_reconnects_and_rejoins_while_the_other_keeps_going(bikes, small_detector):
    server = MJPEGServer(fps=15).start()
    port = server.port
    events = []
    try:
        with stream([bikes, server.url], detector=small_detector,
                    options=StreamOptions(loop=True, connect_timeout_s=1.0, read_timeout_s=1.0),
                    on_event=events.append) as results:
            before = take_for(results, 2.5)
            server.stop()
            during = take_for(results, 3.5)                    # past the connect timeout: it worked, so it retries
            reconnecting = results.status(1).phase
            server.port = port
            server.start()
            after = take_for(results, 5.0)
        assert_stopped(results)
    finally:
        server.stop()
    count = lambda got, i: sum(r.stream == i for r in got)  # noqa: E731
    assert count(before, 0) >= 30 and count(before, 1) >= 10
    assert count(during, 0) >= 50                       # the file's results kept coming while the stream was gone
    assert count(during[-20:], 1) == 0                  # ... and the stream's had stopped
    assert reconnecting == "reconnecting"
    assert count(after, 1) >= 10 and count(after, 0) >= 50   # it rejoined
    assert any("reconnected" in e.message and e.stream == 1 for e in events)
    assert not any(e.kind == "failed" for e in events)


def runs_per_stream(bikes, slow) -> list[int]:
    """Four copies of the clip through `slow`: each stream's model runs over 5 s, after a 1 s start (threads
    checked stopped after)."""
    with stream([bikes] * 4, detector=slow, loop=True) as results:
        take_for(results, 1.0)
        start = [results.inferences_of(i) for i in range(4)]
        take_for(results, 5.0)
        runs = [results.inferences_of(i) - start[i] for i in range(4)]
    assert_stopped(results)
    return runs


def test_four_streams_with_a_slow_model_get_an_equal_share(bikes, small_detector):
    slow = Slowed(small_detector, delay_s=0.08)       # ~10 runs a second for 4 x 25 frames a second
    runs = runs_per_stream(bikes, slow)
    assert min(runs) >= 5, runs
    assert max(runs) <= min(runs) + 2, runs             # round robin: one run each per round
    assert set(slow.batch_sizes) == {1}                 # the eager CPU backend does not prefer batches
    assert slow.most_running == 1                       # nor runs two frames at once: one worker


def test_a_backend_that_overlaps_runs_gets_a_second_worker_and_the_shares_stay_equal(bikes, small_detector):
    slow = Slowed(small_detector, delay_s=0.08, overlaps_runs=True)   # OpenVINO's and ONNX Runtime's flag
    runs = runs_per_stream(bikes, slow)
    assert slow.most_running == 2, slow.most_running   # the second worker ran beside the first
    assert min(runs) >= 5 and max(runs) <= min(runs) + 3, runs
    told = slow.backend.told
    assert told[0] == 2 and told[-1] == 1 and set(told) == {1, 2}, told   # two at once, one again after the stream
    lone = Slowed(small_detector, delay_s=0.08, overlaps_runs=True)
    with stream(bikes, detector=lone, loop=True) as one:
        take_for(one, 2.0)
        assert [t.name for t in one.threads if t.name.startswith("model")] == ["model"]   # one stream: one worker
    assert lone.backend.told == [1]


def test_a_backend_that_prefers_batches_runs_every_ready_stream_together(bikes, small_detector):
    batched = Slowed(small_detector, delay_s=0.1, prefers_batch=True)
    with stream([bikes] * 3, detector=batched, loop=True, hold=True, threshold=0.0) as results:
        got = take_for(results, 4.0)
    assert_stopped(results)
    assert max(batched.batch_sizes) == 3 and Counter(batched.batch_sizes)[3] >= 5
    inferred = [r for r in got if r.inferred]
    assert {r.stream for r in inferred} == {0, 1, 2} and all(len(r.detections) for r in inferred)


def test_the_frame_path_runs_a_fixed_batch_of_one_frame_per_stream(tmp_path, bikes, small_detector):
    folder = image_folder(tmp_path / "images", bikes)
    graph_like = Slowed(small_detector, prefers_batch=True, runs_frames=True)   # the CUDA graph's flags
    with stream([bikes, folder, bikes], detector=graph_like, loop=True, hold=True,
                options=StreamOptions(hold=True, loop=True, folder_dwell_s=0.5)) as results:
        got = take_for(results, 3.0)
    assert_stopped(results)
    assert set(graph_like.batch_sizes) == {3}           # padded: the slow folder never changes the batch
    assert {r.stream for r in got} == {0, 1, 2}


def test_one_source_in_a_list_behaves_as_one_source(tmp_path, small_detector):
    from centernet.errors import SourceError
    with pytest.raises(SourceError, match="no frame from"):
        with stream([f"http://127.0.0.1:{closed_port()}/x.mjpg"], detector=small_detector,
                    options=StreamOptions(connect_timeout_s=1.0)) as results:
            list(results)
    assert not results.multi


def test_leaving_a_loop_over_several_streams_stops_every_thread(bikes, small_detector):
    server = MJPEGServer().start()
    try:
        with stream([bikes, server.url, bikes], detector=small_detector) as results:
            for n, _ in enumerate(results):
                if n == 20:
                    break
        assert_stopped(results)
        assert not [t for t in threading.enumerate() if t in results.threads]
    finally:
        server.stop()


def short_clip(path, video, frames: int):
    """The first `frames` frames of `video` as their own file (a source that ends while another plays)."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    first = cap.read()[1]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (first.shape[1], first.shape[0]))
    out.write(first)
    for _ in range(frames - 1):
        out.write(cap.read()[1])
    out.release()
    return path


def test_openvino_runs_two_cpu_streams_while_two_sources_play_and_one_when_one_is_left(tmp_path, bikes,
                                                                                     seeded_checkpoint,
                                                                                     two_cpu_threads):
    pytest.importorskip("openvino", reason="openvino is not installed (pip install -e .[dev])")
    from centernet.inference.detector import Detector
    detector = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", engine="openvino",
                                        input_size=(64, 64))
    model = detector.backend.model
    short = short_clip(tmp_path / "short.avi", bikes, 40)     # 1.6 s at the clip's 25 fps
    seen = []   # (short clip ended, parallel runs) at each result
    with stream([short, bikes], detector=detector, loop=False) as results:
        for r in results:
            seen.append((results.status(0).phase == "ended", model.parallel_runs))
            if r.stream == 1 and r.frame_index >= 75:     # 3 s of the long clip: the short one ended long ago
                break
    assert_stopped(results)
    assert (False, 2) in seen                            # both playing: two CPU streams, one run on each
    assert seen[-1] == (True, 1)                         # one left: every thread on its runs again
    assert model.parallel_runs == 1                      # and the detector left as it was found


def small_folder(folder, video, n=3, size=(160, 68)):
    """`folder` made, holding the first `n` frames of `video` scaled to `size`: a stream told apart by its size."""
    folder.mkdir()
    cap = cv2.VideoCapture(str(video))
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:02d}.jpg"), cv2.resize(cap.read()[1], size))
    return folder


def take_until(results: Stream, done, timeout_s: float = 30.0) -> list:
    got, deadline = [], time.monotonic() + timeout_s
    while not done(got) and time.monotonic() < deadline:
        r = results.poll(0.1)
        if r is not None:
            got.append(r)
    assert done(got), f"not done within {timeout_s} s: {[(r.stream, r.frame_index) for r in got][-20:]}"
    return got


def test_seek_and_step_act_on_the_stream_named_and_the_others_stay(bikes, small_detector):
    with stream([bikes, bikes], detector=small_detector, loop=True) as results:
        take_until(results, lambda got: {r.stream for r in got} == {0, 1})
        results.set_paused(True)
        take_for(results, 1.0)                                # the frames in flight when paused
        read = [s.frames_read for s in results.states]
        results.seek(150, stream=1)
        results.step(stream=1)
        sought = take_until(results, lambda got: any(r.stream == 1 for r in got))
        assert [(r.stream, r.frame_index) for r in sought] == [(1, 150)]
        assert take_for(results, 0.8) == []                   # one frame of stream 1, none of stream 0
        assert results.states[0].frames_read == read[0]
        results.step()                                        # no stream named: every stream's next frame
        both = take_until(results, lambda got: {r.stream for r in got} == {0, 1})
        assert {r.stream: r.frame_index for r in both}[1] == 151
        assert {r.stream: r.frame_index for r in both}[0] < 150


def test_a_stream_that_ended_plays_again_from_a_seek_while_the_other_goes_on(tmp_path, bikes, small_detector):
    folder = image_folder(tmp_path / "images", bikes)
    with stream([folder, bikes], detector=small_detector, loop=False,
                options=StreamOptions(folder_dwell_s=0.1)) as results:
        take_until(results, lambda got: any(r.stream == 0 and r.frame_index == 2 for r in got)   # its last image
                   and results.status(0).phase == "ended" and any(r.stream == 1 for r in got))
        results.seek(1, stream=0)
        again = take_until(results, lambda got: [r.frame_index for r in got if r.stream == 0][-1:] == [2]
                           and results.status(0).phase == "ended")
        assert [r.frame_index for r in again if r.stream == 0][0] == 1
        assert results.status(1).phase == "playing"          # the clip went on meanwhile
        assert any(r.stream == 1 for r in again)
        assert not results.ended
    assert_stopped(results)


def test_each_stream_may_start_at_its_own_frame(bikes, small_detector):
    with Stream([bikes, bikes], small_detector, start_at=[0, 120]) as results:
        got = take_until(results, lambda got: {r.stream for r in got} == {0, 1})
        first = {i: min(r.frame_index for r in got if r.stream == i) for i in (0, 1)}
        assert first[0] < 20 and first[1] == 120
    with pytest.raises(ConfigError, match="start_at names 1 positions for 2 sources"):
        Stream([bikes, bikes], small_detector, start_at=[5])


class Locating:
    """A detector wrapper that asks the stream, during each run, whose frame it runs on (as the window's heatmap
    tap does); it notes (the stream's answer, the image's size)."""

    def __init__(self, inner):
        self.inner = inner
        self.backend = inner.backend
        self.stream: Stream | None = None
        self.seen: list[tuple[int | None, tuple]] = []

    def __call__(self, image):
        if self.stream is not None:
            self.seen.append((self.stream.stream_inferring(image), image.shape[:2]))
        return self.inner(image)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_detector_wrapper_learns_which_streams_frame_each_run_is_with_two_workers(tmp_path, bikes, small_detector):
    folder = small_folder(tmp_path / "small", bikes)
    locating = Locating(Slowed(small_detector, delay_s=0.05, overlaps_runs=True))
    with stream([bikes, folder], detector=locating, loop=True,
                options=StreamOptions(loop=True, folder_dwell_s=0.05)) as results:
        locating.stream = results
        take_until(results, lambda got: len(locating.seen) >= 30)
        assert results.stream_inferring(results.states[0].last_shown.image.copy()) is None   # the very array only
    assert locating.inner.most_running == 2                   # the two workers ran at once
    sizes = {0: (272, 640), 1: (68, 160)}
    assert {stream for stream, _ in locating.seen} == {0, 1}
    assert all(size == sizes[stream] for stream, size in locating.seen), locating.seen

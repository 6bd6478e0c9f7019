"""As fast as the model goes (`realtime=False`) on a backend that overlaps runs: two frames of one stream in
flight at once, every frame still given once, in order, to its tracker and to the loop."""
from __future__ import annotations

import pytest

from centernet.errors import InputError
from centernet.live import StreamOptions, stream
from centernet.live.stream import Stream
from centernet.tracking.live import LiveTrackingOptions
from tests.centernet.live.helpers import Slowed
from tests.centernet.live.test_multi_stream import assert_stopped, short_clip

FRAMES = 30


@pytest.fixture
def clip(tmp_path, bikes):
    return short_clip(tmp_path / "short.avi", bikes, FRAMES)


def played(results) -> list:
    """Every result of a paused stream, after spying on its tracker's frame times: (results, tracker times)."""
    tracker = results.states[0].tracker
    times, update = [], tracker.update

    def spied(dets, timestamp_s, *args):
        times.append(timestamp_s)
        return update(dets, timestamp_s, *args)

    tracker.update = spied
    results.set_paused(False)
    return list(results), times


def test_two_frames_run_at_once_and_each_comes_once_in_order_even_when_the_later_one_ends_first(clip,
                                                                                                 small_detector):
    # every second run takes 8x as long: the run beside it (the next frame) ends first and must wait its turn
    uneven = Slowed(small_detector, delay_s=(0.08, 0.01), overlaps_runs=True)
    options = StreamOptions(realtime=False, threshold=0.0, tracking=LiveTrackingOptions(track=True))
    with Stream(clip, uneven, options, paused=True) as results:
        got, tracked_at = played(results)
    assert_stopped(results)
    assert [r.frame_index for r in got] == list(range(FRAMES))        # none dropped, none twice, in order
    assert all(r.inferred for r in got)
    assert tracked_at == sorted(tracked_at) and len(tracked_at) == FRAMES   # the tracker saw them in order
    assert [r.timestamp_ms / 1000.0 for r in got] == pytest.approx(tracked_at)
    assert uneven.most_running == 2, uneven.most_running
    told = uneven.backend.told
    assert told[0] == 2 and told[-1] == 1, told     # two runs at once told, one again once the clip ended


def test_a_backend_that_cannot_overlap_runs_runs_one_frame_at_a_time(clip, small_detector):
    serial = Slowed(small_detector, delay_s=0.02, overlaps_runs=False)
    with stream(clip, detector=serial, realtime=False) as results:
        got = list(results)
    assert [r.frame_index for r in got] == list(range(FRAMES))
    assert serial.most_running == 1 and set(serial.backend.told) <= {1}   # never told of two at once


def test_in_real_time_one_frame_of_a_stream_runs_at_a_time(clip, small_detector):
    # latency first: the newest frame is worth running, a second one in flight would only be older
    overlapping = Slowed(small_detector, delay_s=0.06, overlaps_runs=True)
    with stream(clip, detector=overlapping) as results:
        got = list(results)
    assert len(got) == FRAMES and not all(r.inferred for r in got)     # the model skipped frames ...
    assert overlapping.most_running == 1                                # ... yet never ran two at once


class FailsAt(Slowed):
    """Slowed, raising an InputError at its `at`-th call (0-based) while another run is under way."""

    def __init__(self, detector, at: int):
        super().__init__(detector, delay_s=0.03, overlaps_runs=True)
        self.at = at

    def __call__(self, image):
        if len(self.batch_sizes) == self.at:
            self.batch_sizes.append(1)
            raise InputError("this frame cannot be read")
        return super().__call__(image)


def test_a_run_that_fails_beside_another_ends_the_stream_with_its_error(clip, small_detector):
    failing = FailsAt(small_detector, at=5)
    got = []
    with pytest.raises(InputError, match="cannot be read"):
        with stream(clip, detector=failing, realtime=False) as results:
            for r in results:
                got.append(r.frame_index)
    assert_stopped(results)
    assert got == list(range(len(got))) and len(got) <= 5    # in order, and nothing after the failed frame


def test_openvino_runs_two_cpu_streams_for_one_file_played_as_fast_as_it_goes(clip, seeded_checkpoint,
                                                                           two_cpu_threads):
    pytest.importorskip("openvino", reason="openvino is not installed (pip install -e .[dev])")
    from centernet.inference.detector import Detector
    detector = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", engine="openvino",
                                        input_size=(64, 64))
    model = detector.backend.model
    runs_seen = set()
    with stream(clip, detector=detector, realtime=False, threshold=0.0) as results:
        got = []
        for r in results:
            got.append(r)
            runs_seen.add(model.parallel_runs)
    assert_stopped(results)
    assert [r.frame_index for r in got] == list(range(FRAMES))
    assert 2 in runs_seen and model.parallel_runs == 1    # two CPU streams while it played; left as it was found
    # each run's own stage times, though two threads ran the one detector at once
    assert all(r.timings["pre"] > 0 and r.timings["net"] > 0 and r.timings["decode"] > 0 for r in got)

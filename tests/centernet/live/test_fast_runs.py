"""As fast as the model goes (`realtime=False`) on a backend that overlaps runs: two frames of one stream in
flight at once, every frame still given once, in order, to its tracker and to the loop."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from centernet.detections import Detections
from centernet.errors import InputError
from centernet.live import StreamOptions, stream
from centernet.live.stream import Stream
from centernet.tracking.live import LiveTrackingOptions
from tests.centernet.live.helpers import Slowed, image_folder
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
    """Slowed, raising an InputError at its `at`-th call (0-based) while another run is under way (after that call's
    delay: with uneven delays the failing run may be the slow one, the run beside it ending first)."""

    def __init__(self, detector, at: int, delay_s: float | tuple[float, ...] = 0.03):
        super().__init__(detector, delay_s=delay_s, overlaps_runs=True)
        self.at = at

    def __call__(self, image):
        with self.lock:
            failing = len(self.batch_sizes) == self.at
            if failing:
                self.batch_sizes.append(1)
                delay = self._next_delay()
        if failing:
            time.sleep(delay)
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
    runs_seen, said = set(), set()
    with stream(clip, detector=detector, realtime=False, threshold=0.0) as results:
        got = []
        for r in results:
            got.append(r)
            runs_seen.add(model.parallel_runs)
            said.add(results.runs_at_once)
    assert_stopped(results)
    assert [r.frame_index for r in got] == list(range(FRAMES))
    assert 2 in runs_seen and model.parallel_runs == 1    # two CPU streams while it played; left as it was found
    assert 2 in said and results.runs_at_once == 1        # what the window's latency panel says, back to one
    # each run's own stage times, though two threads ran the one detector at once
    assert all(r.timings["pre"] > 0 and r.timings["net"] > 0 and r.timings["decode"] > 0 for r in got)


def drain(results: Stream, got: list | None = None, limit_s: float = 15.0) -> list:
    """Every result left, appended to `got` as it comes (kept when the stream raises), failing (not hanging) when
    the stream does not end within `limit_s`."""
    got, deadline = [] if got is None else got, time.monotonic() + limit_s
    while time.monotonic() < deadline:
        r = results.poll(0.25)
        if r is not None:
            got.append(r)
        elif results.ended:
            return got
    raise AssertionError(f"the stream hung after frames {[r.frame_index for r in got]}")


@pytest.mark.parametrize("at, delays", [(6, (0.08, 0.01)), (5, (0.08, 0.01))], ids=["first-of-two", "second-of-two"])
def test_a_failed_run_ends_the_stream_before_the_run_beside_it_shows_a_later_frame(clip, small_detector, at, delays):
    # the stream's error is set slowly (as a busy machine may): the run after the failed one, done and waiting its
    # turn, must see the stream failed the moment the failed run's turn is over
    failing = FailsAt(small_detector, at=at, delay_s=delays)
    got = []
    with pytest.raises(InputError, match="cannot be read"):
        with Stream(clip, failing, StreamOptions(realtime=False)) as results:
            state, fail = results.states[0], results.states[0].fail

            def slow_fail(error):
                time.sleep(0.3)
                fail(error)

            state.fail = slow_fail
            drain(results, got)
    assert_stopped(results)
    shown = [r.frame_index for r in got]
    assert shown == list(range(len(shown))) and len(shown) <= at, shown   # nothing after the failed frame


class Tagged(Slowed):
    """Slowed, noting which of its outputs it gave (the tracker's spy tells whose detections it was given)."""

    def __init__(self, detector, delay_s):
        super().__init__(detector, delay_s=delay_s, overlaps_runs=True)
        self.outputs: list = []

    def __call__(self, image):
        dets = super().__call__(image)
        with self.lock:
            self.outputs.append(dets)
        return dets


def test_a_model_switch_while_an_output_waits_for_the_consumer_goes_on_with_the_new_model_alone(clip, small_detector):
    old, new = Tagged(small_detector, (0.08, 0.01)), Tagged(small_detector, 0.01)
    options = StreamOptions(realtime=False, threshold=0.0, tracking=LiveTrackingOptions(track=True))
    with Stream(clip, old, options) as results:
        head = [results.poll(5.0) for _ in range(3)]
        time.sleep(0.4)     # the next output is published and not taken; the run after it waits for the consumer
        state, given = results.states[0], []
        with results.cond:     # the run waiting its turn cannot go on meanwhile
            assert state.runs > state.runs_taken and state.inferring, (state.runs, state.runs_taken)
            results.set_detector(new)
            update = state.tracker.update

            def spied(dets, *args):
                given.append(dets)
                return update(dets, *args)

            state.tracker.update = spied
        rest = drain(results)
    assert_stopped(results)
    shown = [r.frame_index for r in head + rest]
    assert shown == sorted(set(shown)) and shown[-1] == FRAMES - 1, shown   # in order, none twice, to the end
    assert len(shown) >= FRAMES - 3 and rest[-1].dropped == FRAMES - len(shown) > 0   # the old model's, counted
    # the old model's run that waited never reached the tracker (set_detector had reset its tracks)
    assert given and all(any(d is o for o in new.outputs) for d in given)


def test_pause_step_seek_and_rerun_with_two_frames_in_flight(clip, small_detector):
    uneven = Slowed(small_detector, delay_s=(0.08, 0.01), overlaps_runs=True)
    with Stream(clip, uneven, StreamOptions(realtime=False, threshold=0.0)) as results:
        got = [results.poll(5.0) for _ in range(4)]
        results.set_paused(True)
        while (r := results.poll(0.5)) is not None:     # the runs under way end and show
            got.append(r)
        shown = [r.frame_index for r in got]
        assert shown == list(range(len(shown))), shown
        results.step()
        r = results.poll(5.0)
        assert r is not None and r.frame_index == shown[-1] + 1 and r.inferred
        assert results.poll(0.5) is None                # one step, one frame
        results.seek(20)
        results.step()
        r = results.poll(5.0)
        assert r is not None and r.frame_index == 20 and r.inferred
        assert results.rerun()
        again = results.poll(5.0)
        assert again is not None and again.frame_index == 20 and again.inferred
        results.set_paused(False)
        assert [r.frame_index for r in drain(results)] == list(range(21, FRAMES))
    assert_stopped(results)


def test_closing_while_a_run_waits_for_the_consumer_stops_every_thread(clip, small_detector):
    uneven = Slowed(small_detector, delay_s=(0.08, 0.01), overlaps_runs=True)
    results = Stream(clip, uneven, StreamOptions(realtime=False))
    assert results.poll(5.0) is not None
    time.sleep(0.4)     # an output untaken, a run waiting its turn, the capture waiting for the consumer
    assert results.close()
    assert_stopped(results)


def test_a_loop_and_a_folder_beside_it_each_come_in_order_with_two_frames_in_flight(tmp_path, bikes, clip,
                                                                                   small_detector):
    folder = image_folder(tmp_path / "images", bikes, n=4)
    uneven = Slowed(small_detector, delay_s=(0.04, 0.005, 0.02), overlaps_runs=True)
    options = StreamOptions(realtime=False, loop=True, tracking=LiveTrackingOptions(track=True))
    with Stream([clip, folder], uneven, options) as results:
        got = []
        for r in results:
            got.append(r)
            if sum(r.stream == 0 for r in got) == FRAMES + 5:    # into the clip's second lap
                break
    assert_stopped(results)
    by_stream = {i: [r.frame_index for r in got if r.stream == i] for i in (0, 1)}
    assert by_stream[0] == list(range(FRAMES)) + list(range(5))
    laps = len(by_stream[1]) // 4
    assert laps >= 2 and by_stream[1][:4 * laps] == list(range(4)) * laps     # the folder loops too
    assert uneven.most_running == 2 and all(r.inferred for r in got)


def test_steps_faster_than_the_model_lose_no_frame(clip, small_detector):
    # three steps at once while both runs take long: each step's frame must wait for the model to take the one
    # before it, not replace it in the model's mailbox (as fast as the model goes, every frame is shown)
    uneven = Slowed(small_detector, delay_s=(0.05, 0.01), overlaps_runs=True)
    with Stream(clip, uneven, StreamOptions(realtime=False, threshold=0.0)) as results:
        got = [results.poll(5.0) for _ in range(3)]
        uneven.delays = (0.4,)
        for _ in range(3):
            results.step()
        while (r := results.poll(1.5)) is not None:
            got.append(r)
    assert_stopped(results)
    shown = [r.frame_index for r in got]
    assert shown == list(range(len(shown))) and len(shown) >= 6, shown   # those under way, then the three steps
    assert got[-1].dropped == 0 and all(r.inferred for r in got)


def test_a_model_switch_during_a_tracker_update_starts_the_new_model_on_empty_tracks(clip, small_detector):
    # the tracker is slow (the switch comes while it runs): the old model's update must not land in the tracks the
    # new model starts from (nor run while they are cleared)
    old = Slowed(small_detector, (0.08, 0.01), overlaps_runs=True)
    new = Slowed(small_detector, 0.01, overlaps_runs=True)
    options = StreamOptions(realtime=False, threshold=0.0, tracking=LiveTrackingOptions(track=True))
    with Stream(clip, old, options) as results:
        head = [results.poll(5.0) for _ in range(2)]
        tracker, updating = results.states[0].tracker, threading.Event()
        update = tracker.update

        def slow_update(*args):
            updating.set()
            time.sleep(0.3)
            return update(*args)

        tracker.update = slow_update
        assert updating.wait(5.0)
        results.set_detector(new)
        rest = drain(results)
    assert_stopped(results)
    shown = [r.frame_index for r in head + rest]
    assert shown == sorted(set(shown)) and shown[-1] == FRAMES - 1 and rest[-1].dropped == FRAMES - len(shown), shown
    assert results.states[0].tracker.updates == len(rest)    # one update per new-model result, none of the old's


class OneBoxPerFrame(Slowed):
    """Slowed, then one person's box placed by the frame's own brightness (each frame's box is its own; consecutive
    frames' boxes overlap, so they make one track)."""

    def __call__(self, image):
        super().__call__(image[:8, :8])       # the delay, and the real model on a tiny crop (real timings)
        x = 40.0 + 5.0 * float(image.mean())
        return Detections(torch.tensor([[x, 60.0, x + 50.0, 200.0]]), torch.tensor([0.9]), torch.tensor([0]))


def test_each_result_s_trails_are_its_own_run_s_though_the_next_run_already_ended(clip, small_detector):
    # the loop takes a while per result (as the window draws it): the run beside it ends meanwhile, and the trails
    # asked for are still those of the result in hand (their last point: its track's centre on this frame)
    one_box = OneBoxPerFrame(small_detector, delay_s=(0.04, 0.01), overlaps_runs=True)
    options = StreamOptions(realtime=False, tracking=LiveTrackingOptions(track=True))
    checked = 0
    with Stream(clip, one_box, options) as results:
        for r in results:
            time.sleep(0.03)
            trails = results.trails_of(0)
            for box, track in zip(r.detections.boxes.numpy(), r.track_ids):
                if track > 0:
                    assert trails[int(track)][-1] == pytest.approx(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
                    checked += 1
    assert_stopped(results)
    assert checked >= FRAMES // 2, checked

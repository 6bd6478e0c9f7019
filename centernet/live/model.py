"""The model thread: runs the Detector on the newest frame of each stream's model mailbox.

One thread serves every stream of a `Stream` (one model in memory). Fair by design: the streams are taken
round robin, each time starting after the last one served, and each gives only its newest frame, so when
the model cannot keep up with every stream each ready stream gets one run per round (an equal share of the
model, whatever the streams' rates); a fast stream never queues work ahead of a slow one. Where the backend
gains from batching (`backend.prefers_batch`: the CUDA graph) the newest frame of every ready stream goes
through `Detector.detect_batch` together (on the frame path padded to one frame per stream, so a changing
number of ready streams replays one captured graph); elsewhere (the CPU engines: measured no faster per frame
in a batch) one by one. With several streams and a backend that may run two frames at once
(`backend.overlaps_runs`: OpenVINO, ONNX Runtime) a second worker takes the next stream in turn, so one
stream's pre-processing, decode and tracking run while the other's network does (never two runs of one
stream at once in real time: its newest frame is the one worth running); the backend is told how many runs
come at once (`set_parallel_runs`: OpenVINO then runs two CPU streams of half the threads each, measured 1.3x
the frames of one two-thread stream on 2 cores) while two streams or more are live, and one when one is left.
As fast as the model goes (`realtime=False`: throughput, not latency, is the point) the two workers keep two
frames of one stream in flight on such a backend, as OpenVINO's throughput mode does: one frame's pre- and
post-processing overlap the other's network (`gui --headless --fast` on the 2-core EPYC, the demo clip,
OpenVINO bf16: 1.02x / 1.05x the Detector alone's frames for MoveNet / the ctdet model, where one frame at a
time gave 0.79x / 0.87x in the same hour; docs/benchmarks.md). Each stream's runs still reach its tracker and
its consumer in frame order (a finished run waits for its predecessor's: `Job.number`), every frame once.
After the forward pass each stream's own live tracker runs (ids, trails, One-Euro smoothing, and the
track association the motion step's fallback velocity needs: so it runs whenever the motion step is on,
ids drawn or not).
A failed forward pass is the stream's error: the consumer reports it (with one stream: raises it).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from centernet.live.frames import LiveFrame, Overlay
from centernet.live.motion import track_velocities
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState, in_turn
from centernet.tracking.live import LiveTracker


MODEL_WORKERS = 2   # the second overlaps its pre/post-processing with the first's network


@dataclass(frozen=True)
class Job:
    """One frame of one stream taken for a run: `number` counts the stream's runs taken (its runs finish in this
    order), `replaced_before` the frames its mailbox had dropped by then."""

    state: StreamState
    frame: LiveFrame
    number: int
    replaced_before: int


@dataclass
class Turn:
    """What the model's workers share: the stream they look at first next time (under the stream's lock), and
    the parallel runs the backend was last told for which detector (under `lock`: a switch may compile)."""

    next: int = 0
    told: tuple = (None, 1)      # (detector, runs)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def is_told(self, detector, runs: int) -> bool:
        return self.told[0] is detector and self.told[1] == runs


def set_parallel_runs(detector, runs: int) -> None:
    """Tell `detector`'s backend how many frames its callers run at once (every backend takes it; most ignore it)."""
    detector.backend.set_parallel_runs(runs)


class ModelThread(threading.Thread):
    def __init__(self, detector, states: list[StreamState], options: StreamOptions, cond: threading.Condition,
                 stop: threading.Event, worker: int = 0, turn: Turn | None = None):
        # a daemon: a forward pass cannot be interrupted; leaving the loop joins it with a deadline
        super().__init__(name="model" if worker == 0 else f"model-{worker + 1}", daemon=True)
        self.detector = detector
        self.states = states
        self.options = options
        self.cond = cond
        self.stop_event = stop
        self.worker = worker
        self.turn = turn or Turn()

    @property
    def batched(self) -> bool:
        """Several ready streams go through the Detector together (the current one: set_detector may change it)."""
        backend = getattr(self.detector, "backend", None)
        return bool(getattr(backend, "prefers_batch", False)) and len(self.states) > 1

    @property
    def padded(self) -> bool:
        """The frame path (the CUDA graph) captures one graph per batch size: a fixed batch of one frame per
        stream, padded, keeps a changing number of ready streams on the same captured graph."""
        return self.batched and bool(getattr(self.detector.backend, "runs_frames", False))

    @property
    def working(self) -> bool:
        """This worker takes frames now: the first whenever there is a model; another only beside it, where the
        backend may run two frames at once and frames are not batched."""
        if self.detector is None:
            return False
        if self.worker == 0:
            return True
        return self.overlaps and not self.batched

    @property
    def overlaps(self) -> bool:
        """The current detector's backend may run two frames at once (OpenVINO, ONNX Runtime)."""
        return bool(getattr(getattr(self.detector, "backend", None), "overlaps_runs", False))

    @property
    def runs_per_stream(self) -> int:
        """How many frames of one stream may be in flight at once: two as fast as the model goes on a backend
        that overlaps runs (unbatched); else one."""
        if self.options.realtime or self.batched or not self.overlaps:
            return 1
        return MODEL_WORKERS

    def _next_jobs(self) -> list[Job]:
        """Holding the lock: the next stream with a frame waiting and room for a run, in turn (with batching:
        every such stream, in turn); empty when stopping."""
        while not self.stop_event.is_set():
            n = len(self.states)
            jobs = []
            for state in in_turn(self.states, self.turn.next) if self.working else ():
                if state.error is None and not state.model.empty and self._may_run(state):
                    frame = state.model.take()
                    jobs.append(Job(state, frame, state.runs_started, state.model.replaced))
                    state.inferring.append(frame)
                    state.runs_started += 1
                    if not self.batched:
                        break
            if jobs:
                self.turn.next = (jobs[-1].state.index + 1) % n
                return jobs
            self.cond.wait(0.25)
        return []

    def _runs_wanted(self) -> int:
        """How many runs the workers make at once from now: `runs_per_stream` per live stream (not ended, not
        failed), at most MODEL_WORKERS, where the backend overlaps runs; else one."""
        if not self.overlaps or self.batched:
            return 1
        live = sum(1 for state in self.states if state.error is None and not state.capture_done)
        return max(1, min(MODEL_WORKERS, live * self.runs_per_stream))

    def _tell_backend(self, detector) -> None:
        """Switch the backend's parallel runs when the number of live streams (or the detector) changed."""
        runs = self._runs_wanted()
        if self.turn.is_told(detector, runs):   # the common case, without the lock
            return
        with self.turn.lock:
            if not self.turn.is_told(detector, runs):
                set_parallel_runs(detector, runs)
                self.turn.told = (detector, runs)

    def _may_run(self, state: StreamState) -> bool:
        """Room for one more run of `state`: in real time when none is under way; as fast as the model goes
        (every output kept) while its runs under way and its outputs not taken yet number fewer than
        `runs_per_stream`."""
        if self.options.realtime:
            return not state.inferring
        return len(state.inferring) + state.runs - state.runs_taken < self.runs_per_stream

    def run(self) -> None:
        while True:
            with self.cond:
                jobs = self._next_jobs()
            if not jobs:
                return
            detector = self.detector    # set_detector may replace it during the run
            try:
                self._tell_backend(detector)
                outputs = self._forward(detector, jobs)
            except BaseException as e:   # the consumer reports it (a CenterNetError is a message; others a bug)
                for job in jobs:
                    self._finish(job, error=e)
                continue
            for job, dets in zip(jobs, outputs):
                if not self._await_turn(job, detector):   # stopping, the stream failed or the model changed
                    self._finish(job, detector=detector)
                    continue
                try:
                    overlay = self.infer(job.state, job.frame, dets, detector)
                except BaseException as e:
                    self._finish(job, error=e)
                    continue
                self._finish(job, overlay, detector)

    def _forward(self, detector, jobs: list[Job]) -> list:
        """The Detector's output of each job: one batch when batching, else frame by frame."""
        images = [job.frame.image for job in jobs]
        if not self.batched or (len(jobs) == 1 and not self.padded):
            return [detector(image) for image in images]
        if self.padded:
            images += [images[-1]] * (len(self.states) - len(images))
        return detector.detect_batch(images)[:len(jobs)]

    def _await_turn(self, job: Job, detector) -> bool:
        """Wait until every earlier run of the job's stream finished (its tracker and its consumer see its frames in
        order) and, as fast as the model goes, the consumer took their outputs (none is replaced unseen). False
        when stopping, the stream failed or, in its turn, `detector` (the run's) was replaced: its output would be
        discarded, and its tracker update would put the old model's tracks back (set_detector reset them)."""
        state = job.state
        with self.cond:
            while not self.stop_event.is_set() and state.error is None:
                if state.runs_finished == job.number:
                    if detector is not self.detector:
                        return False
                    if self.options.realtime or state.runs_taken >= state.runs:
                        return True
                self.cond.wait(0.25)
        return False

    def _finish(self, job: Job, overlay: Overlay | None = None, detector=None,
                error: BaseException | None = None) -> None:
        """The job's run is over: its output published (unless the model changed during the run: it is stale, its
        frame counted dropped), its error set on the stream, or (neither) discarded; the stream's next run may
        finish. The error is set under the same lock as `runs_finished`: a later run waiting its turn must see the
        stream failed, never publish a frame after the failed one."""
        state = job.state
        with self.cond:
            if error is not None:
                state.fail(error)
            state.run_ended(job.frame)
            state.runs_finished = max(state.runs_finished, job.number + 1)
            stale = error is None and detector is not None and detector is not self.detector
            if stale and not self.options.show_every_frame:
                state.overlays_dropped += 1    # a run of the previous model: its frame is never shown
            if overlay is not None and not stale:
                if not self.options.show_every_frame:
                    state.drop_untaken_outputs()   # this output replaces the one not taken yet
                state.runs += 1
                state.replaced_before_overlay = job.replaced_before
                state.overlay = replace(overlay, run=state.runs)
            self.cond.notify_all()

    def infer(self, state: StreamState, frame: LiveFrame, dets=None, detector=None) -> Overlay:
        """`frame`'s overlay for `state` (its own options and tracker); `dets`: the Detector's output when
        a batch already ran it; `detector`: the one this run uses (default: the thread's)."""
        o = state.options
        if dets is None:
            dets = (detector or self.detector)(frame.image)
        timings = dict(dets.timings)
        kept = dets.only_labels(o.classes).above(o.threshold)
        tracking, velocity, trails = o.tracking, None, {}
        if tracking.active or o.motion:
            start = time.perf_counter()
            tracker = self._tracker(state)
            tracked = tracker.update(dets, frame.timestamp_ms / 1000.0, o.threshold, o.classes)
            if o.motion:
                velocity, tracker.motion = track_velocities(tracker.tracker, kept, tracker.motion, frame.timestamp_ms)
            kept, trails = tracked.dets, tracked.trails
            timings["track" if tracking.active else "motion"] = (time.perf_counter() - start) * 1000.0
        return Overlay(frame, kept, timings, time.perf_counter(), 0, velocity, trails)

    @staticmethod
    def _tracker(state: StreamState) -> LiveTracker:
        """The stream's tracker, following its options (a toggle keeps the tracks and their ids)."""
        options = state.options.tracking
        if state.tracker is None:
            state.tracker = LiveTracker(options)
        elif state.tracker.options != options:
            state.tracker.set_options(options)
        return state.tracker

"""The model thread: runs the Detector on the newest frame of each stream's model mailbox.

It serves a list of `StreamState`s (one today; the many-streams pipeline hands it several), taking them
in turn so no stream starves. After the forward pass the stream's live tracker runs (ids, trails,
One-Euro smoothing, and the Kalman velocities the motion step needs: so it runs whenever the motion step
is on, ids drawn or not). A failed forward pass is the stream's error: the consumer raises it.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from centernet.live.frames import LiveFrame, Overlay
from centernet.live.motion import track_velocities
from centernet.live.options import StreamOptions
from centernet.live.state import StreamState
from centernet.tracking.live import LiveTracker


class ModelThread(threading.Thread):
    def __init__(self, detector, states: list[StreamState], options: StreamOptions, cond: threading.Condition,
                 stop: threading.Event):
        # a daemon: a forward pass cannot be interrupted; leaving the loop joins it with a deadline
        super().__init__(name="model", daemon=True)
        self.detector = detector
        self.states = states
        self.options = options
        self.cond = cond
        self.stop_event = stop
        self._turn = 0

    def _next_job(self) -> tuple[StreamState, LiveFrame] | None:
        """The next stream with a frame waiting (in turn), holding the lock; None when stopping."""
        while not self.stop_event.is_set():
            n = len(self.states)
            for k in range(n):
                state = self.states[(self._turn + k) % n]
                if state.error is None and not state.model.empty and self._may_run(state) and self.detector is not None:
                    self._turn = (self._turn + k + 1) % n
                    frame = state.model.take()
                    state.inferring = frame
                    return state, frame
            self.cond.wait(0.25)
        return None

    def _may_run(self, state: StreamState) -> bool:
        """As fast as the model goes keeps every output: the next run waits until the last one was taken."""
        return self.options.realtime or state.runs_taken >= state.runs

    def run(self) -> None:
        while True:
            with self.cond:
                job = self._next_job()
            if job is None:
                return
            state, frame = job
            detector = self.detector
            try:
                overlay = self.infer(state, frame)
            except BaseException as e:   # the consumer raises it (a CenterNetError is a message; others a bug)
                with self.cond:
                    state.inferring = None
                state.fail(e)
                continue
            with self.cond:
                state.inferring = None
                if detector is not self.detector:   # the model changed during the run: its output is stale
                    self.cond.notify_all()
                    continue
                if state.runs > state.runs_taken and not self.options.show_every_frame:
                    state.overlays_dropped += 1    # only inferred frames are shown: the untaken one never will be
                    state.runs_taken = state.runs
                state.runs += 1
                state.overlay = Overlay(overlay.frame, overlay.dets, overlay.timings, overlay.done_at, state.runs,
                                        overlay.velocity, overlay.trails)
                self.cond.notify_all()

    def infer(self, state: StreamState, frame: LiveFrame) -> Overlay:
        o = state.options
        dets = self.detector(frame.image)
        timings = dict(dets.timings)
        kept = dets.only_labels(o.classes).above(o.threshold)
        tracking, velocity, trails = o.tracking, None, {}
        if tracking.active or o.motion:
            start = time.perf_counter()
            tracker = self._tracker(state)
            previous_ms = state.last_inferred_ms
            if previous_ms is not None and frame.timestamp_ms <= previous_ms:
                previous_ms = None        # a loop or a restart: the tracker starts afresh too
            tracked = tracker.update(dets, frame.timestamp_ms / 1000.0, o.threshold, o.classes)
            if o.motion:
                gap_ms = frame.timestamp_ms - previous_ms if previous_ms is not None else None
                per_update = track_velocities(tracker.tracker, kept)
                velocity = per_update / gap_ms if gap_ms else np.zeros_like(per_update)
            state.last_inferred_ms = frame.timestamp_ms
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

"""What one source's threads share: its mailboxes, the newest model output, counters and its error.

One `StreamState` per source, all guarded by the pipeline's one condition; the capture thread writes
frames in, the model thread takes them and publishes overlays, the consumer reads results out. Each carries
its own `StreamOptions` (threshold, classes, tracking, motion are per stream): the model thread reads
`state.options` at each run.
"""
from __future__ import annotations

import threading

from centernet.live.frames import LiveFrame, Overlay, SourceInfo
from centernet.live.mailbox import Mailbox
from centernet.live.motion import MotionStep
from centernet.live.options import StreamOptions
from centernet.tracking.live import LiveTracker


class StreamState:
    def __init__(self, index: int, spec, cond: threading.Condition, options: StreamOptions = StreamOptions()):
        self.index = index
        self.spec = spec
        self.cond = cond
        self.options = options               # read by the model thread at each run (Stream.set_options changes it)
        self.paused = False                  # the capture reads no frame while set ...
        self.steps = 0                       # ... but this many more (single steps)
        self.seek_to: int | None = None      # the capture goes to this frame before its next read
        self.last_shown: LiveFrame | None = None   # the frame of the newest result (Stream.rerun shows it again)
        self.shown_overlay: Overlay | None = None  # ... and the model output it came with (its trails)
        self.display = Mailbox(cond)         # frames for the consumer (every-frame mode)
        self.model = Mailbox(cond)           # frames for the model: it always runs on the newest
        self.inferring: list[LiveFrame] = []   # the frames the model runs on now (in real time at most one)
        self.runs_started = 0                # model runs taken (each job's number) ...
        self.runs_finished = 0               # ... and finished, in that order (published, failed or discarded)
        self.overlay: Overlay | None = None  # the newest model output
        self.motion_step = MotionStep()      # the consumer's: moves the newest output's boxes to a skipped frame
        self.runs = 0                        # model runs published
        self.runs_taken = 0                  # ... of which the consumer took (only-inferred-frames mode)
        self.overlays_dropped = 0            # model outputs replaced before the consumer took them
        # model-mailbox frames replaced before the model took the newest overlay's frame
        self.replaced_before_overlay = 0
        self.tracker: LiveTracker | None = None   # the model thread's (tracking, smoothing, motion)
        self.info: SourceInfo | None = None
        self.frames_read = 0
        self.skipped = 0                     # frames that failed to decode and were skipped
        self.reconnects = 0
        self.reconnecting = False            # the capture thread is trying to (re)open the source
        self.capture_done = False            # the source ended (or failed): no more frames come
        self.error: BaseException | None = None
        self.held: LiveFrame | None = None    # a frame the consumer waits to show with its own model output
        self.reported = False                # the consumer said this stream failed (several streams)

    def fail(self, error: BaseException) -> None:
        with self.cond:
            if self.error is None:
                self.error = error
            self.cond.notify_all()

    def finish_capture(self) -> None:
        with self.cond:
            self.capture_done = True
            self.cond.notify_all()

    def runs_on(self, frame: LiveFrame) -> bool:
        """The model runs on this very frame now (by identity: frames compare by their pixels otherwise)."""
        return any(f is frame for f in self.inferring)

    def run_ended(self, frame: LiveFrame) -> None:
        self.inferring = [f for f in self.inferring if f is not frame]

    def drop_untaken_outputs(self) -> None:
        """Only inferred frames shown: model outputs published and not taken by the consumer will never be shown
        (a newer one replaces them, or the model that made them was replaced): they count as dropped."""
        self.overlays_dropped += self.runs - self.runs_taken
        self.runs_taken = self.runs

    @property
    def model_idle(self) -> bool:
        return not self.inferring and self.model.empty

    def drained(self, show_every_frame: bool) -> bool:
        """The source ended and every frame it gave has been handed out (or will never be)."""
        if not self.capture_done:
            return False
        if show_every_frame:
            return self.display.empty
        return self.model_idle and self.runs_taken >= self.runs

    def dropped_before_shown(self, show_every_frame: bool) -> int:
        """Under the condition, as the consumer takes a frame: the frames before it never shown (frames
        replaced in a mailbox since came after it, so they are left out)."""
        if show_every_frame:
            return self.display.replaced
        return self.replaced_before_overlay + self.overlays_dropped

    def dropped(self, show_every_frame: bool) -> int:
        """Frames read that will never be shown."""
        if show_every_frame:
            return self.display.replaced
        return self.model.replaced + self.overlays_dropped


def in_turn(states: list, first: int) -> list:
    """`states` starting at index `first` and wrapping round (round robin: the one after the last served first)."""
    return states[first:] + states[:first]

"""The window's pipeline shut down while its threads still run: none of them emits into the pipeline once
`shutdown` returned, so Qt may delete it with the window (a straggler's emit into a deleted QObject is a
RuntimeError in that thread, or a crash of the whole process when Qt deletes it at that very moment).

Run in a subprocess: a crash is a failed exit code, not a dead pytest worker."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

CHURN = r'''
import sys, threading, time
from PyQt6 import sip
from PyQt6.QtCore import QEvent
from PyQt6.QtWidgets import QApplication, QWidget
from app.gui.live_adapter import LivePipeline
from tests.stream_server import MJPEGServer

clip, rounds = sys.argv[1], int(sys.argv[2])
errors = []
threading.excepthook = lambda a: errors.append(f"thread {a.thread.name}: {a.exc_type.__name__}: {a.exc_value}")
app = QApplication([])


class SlowRecorder:
    """A recorder on a slow disk: each write outlasts the shutdown's join, so the presenter outlives it."""

    def write(self, image, index):
        time.sleep(0.3)

    def close(self):
        pass


def churn(specs, ready, slow_recorder):
    window = QWidget()              # stands for the main window: Qt deletes the pipeline with it
    pipeline = LivePipeline(window)
    pipeline.open_sources(specs)
    if slow_recorder:
        for i in range(len(specs)):
            pipeline.set_recorder(SlowRecorder(), stream=i)
    deadline = time.monotonic() + 60
    while not ready(pipeline) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    assert ready(pipeline), "the pipeline never got going"
    threads, states = [*pipeline.stream.threads, pipeline.presenter], pipeline.stream.states
    pipeline.take_results()         # the GUI thread keeps up: the presenter's next result signals at once
    pipeline.shutdown(timeout_ms=100)
    window.deleteLater()            # what closing the window does
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert sip.isdeleted(pipeline)
    for thread in threads:          # the stragglers end meanwhile, with nothing to emit into
        thread.join(30)
    assert not any(t.is_alive() for t in threads), [t.name for t in threads if t.is_alive()]
    app.processEvents()
    errors.extend(f"stream {s.index}: {s.error}" for s in states if s.error is not None)


for _ in range(rounds):             # the presenter busy recording when the window goes
    churn([clip, clip], lambda p: p.published >= 2, slow_recorder=True)
server = MJPEGServer(stall_after=5).start()   # a stream that goes silent: its read ends after the read timeout,
try:                                           # after the shutdown, and the capture thread then reconnects
    churn([clip, server.url], lambda p: server.stalled.is_set() and p.published >= 2, slow_recorder=False)
finally:
    server.stop()
print("errors:", errors)
sys.exit(1 if errors else 0)
'''


def test_threads_that_outlive_the_shutdown_never_emit_into_the_deleted_pipeline(bikes):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CHURN, str(bikes), "6"], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    assert "errors: []" in proc.stdout
    assert "Traceback" not in proc.stderr and "has been deleted" not in proc.stderr, proc.stderr[-3000:]

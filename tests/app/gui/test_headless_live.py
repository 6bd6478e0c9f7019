"""`gui --headless` over `centernet.live`: no PyQt6 needed, an honest exit code when no frame ever came, bounded
waits (--connect-timeout, --max-seconds), and one line of ours instead of FFmpeg's per retry."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from tests.app.conftest import closed_port
from tests.conftest import ROOT

NO_QT = ("import runpy, sys; sys.modules['PyQt6'] = None; sys.argv = ['main.py'] + sys.argv[1:]; "
         "runpy.run_path('main.py', run_name='__main__')")


def run_headless(*args, timeout=240, no_qt=False):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("DISPLAY", None)
    head = [sys.executable, "-c", NO_QT] if no_qt else [sys.executable, str(ROOT / "main.py")]
    started = time.monotonic()
    proc = subprocess.run([*head, "gui", "--headless", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)
    return proc, time.monotonic() - started


def model_args(weights):
    return ["--weights", str(weights), "--input-size", "64", "--device", "cpu", "--engine", "eager"]


def test_headless_runs_with_pyqt6_unimportable(bikes, seeded_res18):
    proc, _ = run_headless("--source", str(bikes), *model_args(seeded_res18), "--max-frames", "30", "--track",
                           no_qt=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("engine: eager "), proc.stdout   # said once, before anything else
    assert sum(line.startswith("engine: ") for line in lines) == 1
    assert any(line.startswith("model: ctdet res_18") for line in lines)
    assert any(line.startswith("source: video") for line in lines)
    final = [line for line in lines if line.startswith("final: ")]
    assert len(final) == 1 and "frames 30" in final[0] and " track " in final[0] and "net " in final[0]
    assert "PyQt6" not in proc.stderr


def test_a_local_file_that_is_not_a_video_fails_at_once(tmp_path, seeded_res18):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    proc, _ = run_headless("--source", str(junk), *model_args(seeded_res18))
    assert proc.returncode == 2, proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: cannot open video") and "junk.mp4" in errors[0], errors


def test_an_undecodable_file_or_an_imageless_folder_fails_before_the_model_loads(tmp_path, bikes, seeded_res18):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (tmp_path / "empty").mkdir()
    cases = ((["--source", str(junk)], "error: cannot open video"),
             (["--source", str(bikes), "--source", str(tmp_path / "empty")], "error: no images in folder"))
    for sources, message in cases:
        proc, _ = run_headless(*sources, *model_args(seeded_res18))
        assert proc.returncode == 2, proc.stdout
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith(message), errors
        assert "engine:" not in proc.stdout and "model:" not in proc.stdout, proc.stdout   # no model was loaded


def test_a_stream_that_never_answers_gives_up_after_the_connect_timeout_without_a_log_flood(seeded_res18):
    url = f"http://127.0.0.1:{closed_port()}/live.mjpg"
    proc, _ = run_headless("--source", url, *model_args(seeded_res18), "--connect-timeout", "4")
    assert proc.returncode == 2, proc.stdout
    assert "reconnect attempt 2" in proc.stdout                # it did retry, saying so on stdout
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: no frame from {url} within 4 s"), errors
    assert "final: " not in proc.stdout


class SilentListener:
    """Accepts connections and never answers (a camera whose server hung)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            while True:
                self.clients.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept (a close alone does not on Linux)
        self.thread.join(timeout=5)
        for c in self.clients:
            c.close()
        self.sock.close()


def test_max_seconds_stops_a_run_stuck_on_a_silent_source(seeded_res18):
    listener = SilentListener()
    try:
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "gui", "--headless", "--source",
                                 f"http://127.0.0.1:{listener.port}/x", *model_args(seeded_res18), "--max-seconds",
                                 "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
        model_ready = None
        for line in proc.stdout:          # --max-seconds counts from the model being ready
            if line.startswith("model: "):
                model_ready = time.monotonic()
        proc.wait(timeout=120)
        ended = time.monotonic()
        err = proc.stderr.read()
    finally:
        listener.close()
    assert model_ready is not None
    assert proc.returncode == 2, err                      # no frame was ever read
    assert "no frame was read" in err
    assert ended - model_ready < 3 + 2 + 5                # --max-seconds, the 2 s join, a loaded machine's slack


def test_headless_exits_2_when_a_folder_has_no_readable_image(tmp_path, seeded_res18):
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    proc, _ = run_headless("--source", str(tmp_path), *model_args(seeded_res18))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr

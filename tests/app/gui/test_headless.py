"""`main.py gui --headless` runs the pipeline without a window and prints the readout every second."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from tests.conftest import ROOT


def run_main(*args, timeout=180):
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)   # no display needed at all
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "gui", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_headless_prints_readouts_and_exits(bikes, seeded_res18):
    proc = run_main("--headless", "--source", str(bikes), "--weights", str(seeded_res18), "--input-size", "64",
                    "--device", "cpu", "--max-seconds", "4", "--threshold", "0.2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("model: ctdet res_18") for line in lines)
    engine = [line for line in lines if line.startswith("engine: ")]   # once, at start: what auto picked and why
    assert len(engine) == 1 and re.fullmatch(r"engine: eager (fp32|bf16) \(auto: set by CENTERNET_CPU_ENGINE\)",
                                             engine[0]), engine
    assert any(line.startswith("source: video") for line in lines)
    readouts = [line for line in lines if line.startswith("display ")]
    assert len(readouts) >= 3, proc.stdout
    final = [line for line in lines if line.startswith("final: ")]
    assert len(final) == 1 and "inference" in final[0] and "dropped" in final[0]
    assert "overlay age" in final[0]   # how old the drawn detections are, in the real-time display
    assert "net " in final[0]   # at least one frame went through the model


def test_headless_missing_source_is_one_error_line(tmp_path, seeded_res18):
    proc = run_main("--headless", "--source", str(tmp_path / "missing.mp4"), "--weights", str(seeded_res18),
                    "--input-size", "64", "--device", "cpu", "--max-seconds", "3")
    assert proc.returncode == 2
    assert "error: input not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gui_without_display_says_how_to_run_headless(tmp_path):
    proc = run_main("--source", str(tmp_path / "x.mp4"), timeout=60)
    assert proc.returncode == 2
    assert "--headless" in proc.stderr and "Traceback" not in proc.stderr


def test_headless_track_runs_the_tracker_and_times_it(bikes, seeded_res18):
    proc = run_main("--headless", "--source", str(bikes), "--weights", str(seeded_res18), "--input-size", "64",
                    "--device", "cpu", "--max-frames", "40", "--threshold", "0.2", "--track")
    assert proc.returncode == 0, proc.stderr
    final = [line for line in proc.stdout.splitlines() if line.startswith("final: ")]
    assert len(final) == 1 and " track " in final[0], proc.stdout      # the Tracking stage in the readout
    plain = run_main("--headless", "--source", str(bikes), "--weights", str(seeded_res18), "--input-size", "64",
                     "--device", "cpu", "--max-frames", "20", "--threshold", "0.2")
    assert " track " not in plain.stdout                                # boxes: no tracker unless asked


def test_lines_said_from_many_threads_at_once_stay_whole():
    """The capture threads' `[i] source: ...` events and the readout's lines come from several threads."""
    import threading
    from app.gui.headless import say

    class Yielding:
        """A stream that lets other threads run between writes (where `print` splits a line and its newline)."""

        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)
            time.sleep(0)

        def flush(self):
            time.sleep(0)

    out = Yielding()
    threads = [threading.Thread(target=lambda i=i: [say(f"[{i}] line {k}", out) for k in range(300)])
               for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = "".join(out.parts).split("\n")
    assert lines[-1] == "" and len(lines) == 6 * 300 + 1
    assert all(re.fullmatch(r"\[\d\] line \d+", line) for line in lines[:-1])


def test_max_frames_beyond_the_clip_counts_every_frame_up_to_its_end(tmp_path, bikes, seeded_res18):
    # the clip's end arrives while its last runs are under way or untaken: they still count (they were lost)
    from tests.centernet.live.test_multi_stream import short_clip
    clip = short_clip(tmp_path / "short.avi", bikes, 30)
    for extra in ((), ("--track",)):
        proc = run_main("--headless", "--fast", "--source", str(clip), "--weights", str(seeded_res18), "--input-size",
                        "64", "--device", "cpu", "--max-frames", "100", *extra)
        assert proc.returncode == 0, proc.stderr
        final = [line for line in proc.stdout.splitlines() if line.startswith("final: ")]
        assert len(final) == 1 and re.search(r"\| frames 30\b", final[0]), (extra, final)

"""`main.py gui --headless --serve HOST:PORT` as a user runs it: a real process serving the demo clip, read
over real HTTP on 127.0.0.1; and the one-line errors (a port in use, a bad value, --serve without --headless)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.app.web.mjpeg_client import decode, get, read_jpegs
from tests.conftest import ROOT


def model_args(weights) -> list[str]:
    return ["--weights", str(weights), "--input-size", "64", "--device", "cpu", "--engine", "eager"]


def start_serving(*args) -> tuple[subprocess.Popen, str]:
    """A headless run with --serve 127.0.0.1:0; returns it and the URL its `serving` line names."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None)
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "gui", "--headless", "--serve", "127.0.0.1:0",
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    first = proc.stdout.readline()
    if not first.startswith("serving http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"first line {first!r}; stderr: {proc.communicate()[1]}")
    return proc, first.split(" ", 1)[1].strip()


def wait_for_status(url: str, ready, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = json.loads(get(url + "status.json")[2])
        if ready(status):
            return status
        time.sleep(0.25)
    raise AssertionError(f"status never ready: {status}")


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)


@pytest.fixture
def serving(bikes, seeded_res18):
    proc, url = start_serving("--source", bikes, *model_args(seeded_res18), "--loop", "--max-seconds", "120")
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_headless_run_serves_its_page_video_status_and_metrics(serving):
    proc, url = serving
    assert url.endswith("/") and ":0/" not in url                  # the real port, not 0
    status = wait_for_status(url, lambda s: s["streams"][0]["frames"] >= 100)   # 4 s of the 25 fps clip
    stream, model = status["streams"][0], status["model"]
    assert stream["source"].endswith("bikes.mp4") and stream["status"] == "playing"
    assert 20.0 <= stream["display_fps"] <= 30.0, stream           # the clip's own rate, in real time
    assert stream["inference_fps"] > 0 and stream["overlay_age_ms"] is not None and stream["reconnects"] == 0
    assert model["name"].startswith("ctdet res_18") and model["engine"].startswith("eager ")
    assert model["latency_ms"] > 0

    page = get(url)[2].decode()
    assert page.count('<section class="tile"') == 1 and "bikes.mp4" in page

    metrics = get(url + "metrics")
    assert metrics[0] == 200 and metrics[1].startswith("text/plain; version=0.0.4")
    lines = metrics[2].decode().splitlines()
    assert "# TYPE centernet_display_fps gauge" in lines
    display = [float(line.split()[-1]) for line in lines if line.startswith('centernet_display_fps{stream="0"}')]
    assert len(display) == 1 and 20.0 <= display[0] <= 30.0, display
    assert any(line.startswith("centernet_model_latency_seconds ") for line in lines)

    images = [decode(j) for j in read_jpegs(url + "stream/0.mjpg", 5)]
    assert all(im.shape == (272, 640, 3) for im in images)        # the clip's frames, drawn
    assert all(not (a == b).all() for a, b in zip(images, images[1:])), "the video does not move"
    assert get(url + "stream/1.mjpg")[0] == 404                    # one source: only stream 0

    out, err = stop(proc)
    assert proc.returncode == 130, err
    assert sum(line.startswith("serving ") for line in out.splitlines()) == 0   # said once (read above)
    assert any(line.startswith("final: ") for line in out.splitlines()), out
    with pytest.raises(OSError):                                   # the server closed with the run
        get(url, timeout=2)


def run_main(*args, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, (proc.returncode,
                                                                                          proc.stderr)
    return lines[0]


def test_a_port_in_use_exits_2_with_one_line_before_the_model_loads(bikes, seeded_res18):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_main("gui", "--headless", "--source", bikes, *model_args(seeded_res18),
                        "--serve", f"127.0.0.1:{port}", "--max-seconds", "5")
    line = one_error_line(proc)
    assert line.startswith(f"error: --serve 127.0.0.1:{port}: the port is in use") and "pick another" in line
    assert "engine:" not in proc.stdout                             # no model was loaded for nothing


def test_a_bad_serve_value_and_serve_without_headless_are_one_line_each(bikes):
    line = one_error_line(run_main("gui", "--headless", "--source", bikes, "--serve", "localhost:http"))
    assert line.startswith("error: --serve 'localhost:http' is not [HOST:]PORT: give e.g. 8080"), line
    line = one_error_line(run_main("gui", "--source", bikes, "--serve", "8080"))
    assert line == "error: --serve needs --headless (the window shows the video itself): add --headless", line

"""`annotate --ray` on a real local Ray instance (2 CPUs): outputs byte-identical to the single-process run,
a killed worker's video retried, `--resume` after the driver is killed.

One Ray instance serves the module (starting one takes seconds), held by a subprocess; every driver is a CLI
subprocess that joins it by address. No Ray driver runs in the test process: Ray leaves its gRPC threads
running after `ray.shutdown()`, and a parallel test worker goes on to run other modules beside them (a worker
crashed with SIGSEGV once, in a later module). The single-process reference is a CLI subprocess as well.
Byte-identical needs the same torch thread count as the workers (one each): the single-process reference
runs with CENTERNET_THREADS=1 (float rounding depends on how a convolution is split over threads).
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import pytest

from centernet.io.writers.lock import holder
from centernet.jobs.annotate_ray import ClusterError, ClusterOptions, pool_shape
from tests.conftest import ROOT

if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed: pip install 'centernet-live[cluster]'", allow_module_level=True)

DEMO = ROOT / "assets" / "demo" / "bikes.mp4"
# name: (first frame, frames) of bikes.mp4. b is long enough for the kills to land mid-way, after its first chunk
# of 8 frames and before its end, seen through its state file polled every 20 ms
CLIPS = {"a": (0, 24), "b": (30, 96), "c": (70, 20)}
FILES = ("annotations.json", "mot.txt", "detections.csv")
COMMON = ["--format", "coco,mot,csv", "--input-size", "128", "--device", "cpu", "--batch", "4", "--chunk", "8"]
# a local Ray instance in a process of its own: its address on stdout, shut down when stdin closes
HOLD_CLUSTER = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[1], log_to_driver=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""
# a new local Ray instance asks for a token (kept in ~/.ray/auth_token); a driver given its address sends it only so
TOKEN_ENV = {**os.environ, "RAY_AUTH_MODE": "token"}


@pytest.fixture(scope="module")
def cluster():
    """The address of a local Ray instance with 2 CPU slots, no dashboard, its sockets under a short /tmp folder."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    log = open(os.path.join(temp, "holder.log"), "w+")
    hold = subprocess.Popen([sys.executable, "-c", HOLD_CLUSTER, temp], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=log, text=True, env=TOKEN_ENV)
    try:
        address = hold.stdout.readline().strip()
        if not address:
            log.seek(0)
            pytest.fail(f"the local Ray instance did not start: {log.read()[-2000:]}")
        yield address
    finally:
        hold.stdin.close()
        try:
            hold.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hold.kill()
            hold.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def annotate_on(cluster, clips, out, *more) -> list[str]:
    """The CLI command that annotates `clips` into `out` on the cluster."""
    return [sys.executable, str(ROOT / "main.py"), "annotate", *clips, "--ray", cluster, "--out", str(out),
            *COMMON, *more]


def wait_until(predicate, process, deadline) -> None:
    """Poll `predicate` every 20 ms while `process` runs, until the deadline (then fail with its output)."""
    while not predicate():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three short real videos cut from the demo clip (mp4v, as the rendered output)."""
    folder = tmp_path_factory.mktemp("clips")
    cap = cv2.VideoCapture(str(DEMO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    paths = []
    for name, (first, count) in CLIPS.items():
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        path, writer = folder / f"{name}.mp4", None
        for _ in range(count):
            ok, image = cap.read()
            assert ok
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, image.shape[1::-1])
            writer.write(image)
        writer.release()
        paths.append(str(path))
    cap.release()
    return paths


@pytest.fixture(scope="module")
def reference(clips, tmp_path_factory):
    """The single-process CLI's outputs, one torch thread like each worker, rendered video included. A subprocess:
    run in the test worker, a worker crashed twice with SIGSEGV (no fault dump) in this module's first test, in
    full suites only."""
    out = tmp_path_factory.mktemp("single") / "out"
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "annotate", *clips, "--out", str(out), *COMMON,
                          "--format", "coco,mot,csv,video", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "CENTERNET_THREADS": "1"}, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


def assert_same_outputs(out, reference, names=CLIPS):
    for name in names:
        for file in FILES:
            assert (out / name / file).read_bytes() == (reference / name / file).read_bytes(), f"{name}/{file}"
        assert not list((out / name / ".annotate").glob("chunks/*.json"))   # complete: chunk files removed


def chunks_done(folder):
    try:
        return json.loads((folder / ".annotate" / "state.json").read_text())["chunks_done"]
    except (OSError, ValueError):
        return 0


def table_rows(stdout, clips):
    """The summary table's row per video (not the `video -> folder: message` lines printed as each ends)."""
    return {words[0]: line for line in stdout.splitlines()
            if len(words := line.split()) > 1 and words[0] in clips and words[1] != "->"}


def video_frames(path):
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, image = cap.read()
        if not ok:
            return frames
        frames.append(image)


def test_three_videos_on_two_workers_equal_the_single_process_run_a_bad_one_fails_once(cluster, clips, reference,
                                                                                     tmp_path):
    out, missing = tmp_path / "out", str(tmp_path / "missing.mp4")
    run = subprocess.run(annotate_on(cluster, [*clips, missing], out, "--format", "coco,mot,csv,video"), cwd=ROOT,
                         env=TOKEN_ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr      # some videos failed
    assert_same_outputs(out, reference)
    for name, (_, count) in CLIPS.items():
        ours, theirs = video_frames(out / name / "rendered.mp4"), video_frames(reference / name / "rendered.mp4")
        assert len(ours) == len(theirs) == count
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    rows = table_rows(run.stdout, [*clips, missing])
    assert [rows[c].split()[1] for c in clips] == [str(n) for _, n in CLIPS.values()]  # frames column
    assert all("cpu" in rows[c] and rows[c].split()[-1] == "annotated" for c in clips)
    assert len({rows[c].split()[3] for c in clips}) == 2    # both workers took videos
    assert rows[missing].split()[-2:] == ["1", "failed"]    # tried once: a bad input is not retried
    assert "3 of 4 videos annotated by 2 workers" in run.stdout
    assert "1 of 4 videos failed: " + missing in run.stderr


def test_a_killed_worker_s_video_is_retried_and_still_equal(cluster, clips, reference, tmp_path):
    out = tmp_path / "out"
    run = subprocess.Popen(annotate_on(cluster, clips, out), cwd=ROOT, env=TOKEN_ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240   # generous: a loaded 2-core machine starts workers slowly
    # SIGKILL the worker on the longest clip once its first chunk is on disk (as the OOM killer would)
    wait_until(lambda: chunks_done(out / "b") >= 1, run, deadline)
    owner = holder(out / "b")
    assert owner is not None and not (out / "b" / "summary.json").exists(), "b finished before it could be killed"
    os.kill(owner.pid, signal.SIGKILL)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    rows = table_rows(stdout, clips)
    assert rows[clips[1]].split()[-2:] == ["2", "resumed"]   # tried twice: the retry went on from the dead one's chunks
    assert not rows[clips[1]].split()[3].endswith(f":{owner.pid}")   # another worker finished it
    assert [rows[c].split()[-2] for c in (clips[0], clips[2])] == ["1", "1"]
    # the retry continued the dead worker's chunks
    assert json.loads((out / "b" / "summary.json").read_text())["frames"]["resumed_after"] >= 8
    assert_same_outputs(out, reference)


def test_resume_after_the_driver_is_killed_redoes_only_unfinished_videos(cluster, clips, reference, tmp_path):
    out = tmp_path / "out"
    command = annotate_on(cluster, clips, out, "--workers", "1")
    first = subprocess.Popen(command + ["--quiet"], cwd=ROOT, env=TOKEN_ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240   # generous: a loaded 2-core machine starts workers slowly
    wait_until((out / "a" / "summary.json").exists, first, deadline)   # one worker: a, then b, then c
    wait_until(lambda: chunks_done(out / "b") >= 1, first, deadline)   # b is mid-way: its first chunk counted done
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert not (out / "c" / "summary.json").exists()
    finished = {f: (out / "a" / f).stat().st_mtime_ns for f in FILES}
    while holder(out / "b") is not None:   # the dead driver's worker is gone (and its lock with it)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = subprocess.run(command + ["--resume"], cwd=ROOT, env=TOKEN_ENV, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert_same_outputs(out, reference)
    assert {f: (out / "a" / f).stat().st_mtime_ns for f in FILES} == finished   # not redone
    status = table_rows(again.stdout, clips)
    assert "already complete" in status[clips[0]]
    assert "resumed" in status[clips[1]] and "annotated" in status[clips[2]]
    assert json.loads((out / "b" / "summary.json").read_text())["frames"]["resumed_after"] >= 8


def test_a_driver_without_the_token_setting_is_told_to_set_it(cluster, clips, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    run = subprocess.run(annotate_on(cluster, clips[:1], tmp_path / "out"), cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2
    error = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and cluster in error[0] and "set RAY_AUTH_MODE=token" in error[0], run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "out").exists()


def test_one_worker_per_gpu_else_per_cpu_slot_never_more_than_inputs():
    assert pool_shape({"GPU": 4.0, "CPU": 32.0}, ClusterOptions(), 10) == (4, True)
    assert pool_shape({"GPU": 4.0, "CPU": 32.0}, ClusterOptions(use_gpus=False), 10) == (10, False)  # --device cpu
    assert pool_shape({"CPU": 2.0}, ClusterOptions(), 3) == (2, False)
    assert pool_shape({"CPU": 8.0}, ClusterOptions(workers=3), 10) == (3, False)
    assert pool_shape({"CPU": 8.0}, ClusterOptions(cpus_per_worker=4), 10) == (2, False)
    assert pool_shape({"GPU": 2.0, "CPU": 8.0}, ClusterOptions(), 1) == (1, True)
    with pytest.raises(ClusterError, match="no GPU: use --device cpu"):
        pool_shape({"CPU": 2.0}, ClusterOptions(use_gpus=True), 3)

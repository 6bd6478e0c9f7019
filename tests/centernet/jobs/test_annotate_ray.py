"""`annotate --ray` on a real local Ray instance (2 CPUs): outputs byte-identical to the single-process run,
a killed worker's video retried, `--resume` after the driver is killed.

One Ray instance serves the module (starting one takes seconds); a CLI subprocess joins it by address.
Byte-identical needs the same torch thread count as the workers (one each): the single-process reference
runs with CENTERNET_THREADS=1 (float rounding depends on how a convolution is split over threads).
"""
import functools
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
import torch

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'centernet-live[cluster]'")

from app.cli.main import main  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.jobs.annotate import AnnotateOptions, plan_job  # noqa: E402
from centernet.jobs.annotate_ray import ClusterError, ClusterOptions, pool_shape, run_job_on_ray  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

DEMO = ROOT / "assets" / "demo" / "bikes.mp4"
# name: (first frame, frames) of bikes.mp4. b is long enough for the kills to land mid-way, after its first chunk
# of 8 frames and before its end, seen through progress polled every 0.1 s (with 32 frames a run once missed it)
CLIPS = {"a": (0, 24), "b": (30, 96), "c": (70, 20)}
FILES = ("annotations.json", "mot.txt", "detections.csv")
COMMON = ["--format", "coco,mot,csv", "--input-size", "128", "--device", "cpu", "--batch", "4", "--chunk", "8"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with 2 CPU slots, no dashboard, its sockets under a short /tmp folder."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


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
    """The single-process CLI's outputs, one torch thread like each worker, rendered video included."""
    out = tmp_path_factory.mktemp("single") / "out"
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CENTERNET_THREADS", "1")
        try:
            assert main(["annotate", *clips, "--out", str(out), *COMMON, "--format", "coco,mot,csv,video",
                         "--quiet"]) == 0
        finally:
            torch.set_num_threads(threads)
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
                                                                                     tmp_path, capsys):
    out, missing = tmp_path / "out", str(tmp_path / "missing.mp4")
    code = main(["annotate", *clips, missing, "--ray", "--out", str(out), *COMMON, "--format", "coco,mot,csv,video"])
    assert code == 1                            # some videos failed
    assert_same_outputs(out, reference)
    for name, (_, count) in CLIPS.items():
        ours, theirs = video_frames(out / name / "rendered.mp4"), video_frames(reference / name / "rendered.mp4")
        assert len(ours) == len(theirs) == count
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    captured = capsys.readouterr()
    rows = table_rows(captured.out, [*clips, missing])
    assert [rows[c].split()[1] for c in clips] == [str(n) for _, n in CLIPS.values()]  # frames column
    assert all("cpu" in rows[c] and rows[c].split()[-1] == "annotated" for c in clips)
    assert len({rows[c].split()[3] for c in clips}) == 2    # both workers took videos
    assert rows[missing].split()[-2:] == ["1", "failed"]    # tried once: a bad input is not retried
    assert "3 of 4 videos annotated by 2 workers" in captured.out
    assert "1 of 4 videos failed: " + missing in captured.err


def test_a_killed_worker_s_video_is_retried_and_still_equal(cluster, clips, reference, tmp_path):
    options = AnnotateOptions(formats=("coco", "mot", "csv"), batch=4, chunk=8, quiet=True)
    plan = plan_job(clips, tmp_path / "out", options)
    make = functools.partial(Detector.from_checkpoint, None, input_size=(128, 128))
    killed = []

    def kill_once(progress):
        """SIGKILL the worker on the longest clip once its first chunk is on disk (as the OOM killer would)."""
        for active in progress.active:
            if not killed and active.spec == clips[1] and 9 <= active.frames < CLIPS["b"][1] - 4:
                os.kill(active.pid, signal.SIGKILL)
                killed.append(active.pid)

    result = run_job_on_ray(plan, make, options, ClusterOptions(poll_s=0.1), on_progress=kill_once)
    assert killed, "the worker finished before it could be killed"
    assert not result.failed                                   # exit code 0
    retried = result.results[1]
    assert retried.attempts == 2 and retried.ok
    assert not retried.worker.endswith(f":{killed[0]}")        # another worker finished it
    assert retried.summary["frames"]["resumed_after"] >= 8     # the retry continued the dead worker's chunks
    assert [r.attempts for r in (result.results[0], result.results[2])] == [1, 1]
    assert_same_outputs(tmp_path / "out", reference)


def test_resume_after_the_driver_is_killed_redoes_only_unfinished_videos(cluster, clips, reference, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "main.py"), "annotate", *clips, "--ray", cluster, "--out", str(out),
               *COMMON, "--workers", "1"]
    first = subprocess.Popen(command + ["--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240   # generous: a loaded 2-core machine starts workers slowly
    while not (out / "a" / "summary.json").exists():   # one worker: a, then b, then c
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    while chunks_done(out / "b") < 1:                  # b is mid-way: its first chunk counted done
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert not (out / "c" / "summary.json").exists()
    finished = {f: (out / "a" / f).stat().st_mtime_ns for f in FILES}
    while ray.available_resources().get("CPU", 0) < 2:  # the dead driver's worker is gone (and its lock with it)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = subprocess.run(command + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert_same_outputs(out, reference)
    assert {f: (out / "a" / f).stat().st_mtime_ns for f in FILES} == finished   # not redone
    status = table_rows(again.stdout, clips)
    assert "already complete" in status[clips[0]]
    assert "resumed" in status[clips[1]] and "annotated" in status[clips[2]]
    assert json.loads((out / "b" / "summary.json").read_text())["frames"]["resumed_after"] >= 8


def test_one_worker_per_gpu_else_per_cpu_slot_never_more_than_inputs():
    assert pool_shape({"GPU": 4.0, "CPU": 32.0}, ClusterOptions(), 10) == (4, True)
    assert pool_shape({"GPU": 4.0, "CPU": 32.0}, ClusterOptions(use_gpus=False), 10) == (10, False)  # --device cpu
    assert pool_shape({"CPU": 2.0}, ClusterOptions(), 3) == (2, False)
    assert pool_shape({"CPU": 8.0}, ClusterOptions(workers=3), 10) == (3, False)
    assert pool_shape({"CPU": 8.0}, ClusterOptions(cpus_per_worker=4), 10) == (2, False)
    assert pool_shape({"GPU": 2.0, "CPU": 8.0}, ClusterOptions(), 1) == (1, True)
    with pytest.raises(ClusterError, match="no GPU: use --device cpu"):
        pool_shape({"CPU": 2.0}, ClusterOptions(use_gpus=True), 3)

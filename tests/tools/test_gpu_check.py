"""`bench --gpu-check` needs a GPU; its comparison and benchmark code is run here on the CPU (eager engine)."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from centernet.errors import ConfigError
from tests.conftest import ROOT
from tools.gpu_check import bench_batched, check_graph_tasks, check_mixed_sizes, run_gpu_check


def _frames(n=4, hw=(96, 160)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for _ in range(n)]


def test_graph_check_runs_every_task_and_flip_with_the_eager_engine_on_the_cpu():
    cases = (("ctdet", "res_18", True), ("multi_pose", "res_18", True), ("ddd", "res_18", False))
    report = check_graph_tasks(_frames(), "cpu", fast_engine="eager", cases=cases, input_size=(64, 64), batch=2)
    assert set(report) == {"ctdet_res_18_flip", "multi_pose_res_18_flip", "ddd_res_18"}
    for name, r in report.items():
        assert r["mode"] == "eager" and r["detections"] > 0 and r["pass"], name
    assert report["multi_pose_res_18_flip"]["joint_px_median_max"] == 0 and report["ddd_res_18"]["depth_m_max"] == 0


def test_mixed_size_check_runs_frames_of_four_sizes_in_one_call_with_the_eager_engine_on_the_cpu():
    cases = (("ctdet", "res_18", True), ("ddd", "res_18", False))
    sizes = {"ctdet": ((96, 160), (120, 120), (64, 96), (80, 60)), "ddd": ((96, 320), (90, 300), (100, 330), (88, 290))}
    report = check_mixed_sizes(_frames(), "cpu", fast_engine="eager", cases=cases, sizes=sizes, input_size=(64, 64))
    assert set(report) == {"ctdet_res_18_flip", "ddd_res_18"}
    for name, r in report.items():
        assert r["mode"] == "eager" and r["detections"] > 0 and r["pass"], name
        assert len({tuple(hw) for hw in r["sizes"]}) == 4


def test_batched_benchmark_reports_frames_per_second_on_the_cpu():
    r = bench_batched(_frames(2), batch=2, replays=1, device="cpu", precision="fp32", res=64)
    assert r["mode"] == "eager" and r["batch"] == 2 and r["fps"] > 0 and r["fps_batch_1"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available")
def test_gpu_check_without_a_gpu_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        run_gpu_check(tmp_path / "report.json")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available")
def test_main_py_bench_gpu_check_runs_the_harness_and_passes_its_one_line_error_on(tmp_path):
    """The harness lives in tools/, outside the library; `main.py bench --gpu-check` starts it as a process."""
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "bench", "--gpu-check", "--json",
                           str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: bench --gpu-check needs a CUDA GPU; none is available here"]
    assert not (tmp_path / "r.json").exists()


def _writer(tmp_path, lines):
    from tools.gpu_check import ReportWriter
    report = {"checks": {}, "benchmarks": {}, "first_failure": None}
    return report, ReportWriter(report, tmp_path / "report.json", lines.append)


def test_steps_report_pass_fail_and_skipped_each_written_at_once(tmp_path):
    """The first failure keeps its whole traceback with its cause; a kernel step is skipped (not
    failed) when the kernels cannot run; the report on disk holds every step as soon as it ends."""
    import json
    from tools.gpu_check import Step, run_steps
    lines = []
    report, writer = _writer(tmp_path, lines)

    def fails():
        try:
            {}["missing"]
        except KeyError as e:
            raise ValueError("the step's own error") from e

    def sees_the_report():
        on_disk = json.loads((tmp_path / "report.json").read_text())
        return {"pass": set(on_disk["checks"]) == {"passes", "fails", "kernel"}}

    steps = [Step("passes", lambda: {"pass": True}, 10), Step("fails", fails, 10),
             Step("kernel", lambda: {"pass": True}, 10, needs_kernels=True),
             Step("sees_the_report", sees_the_report, 10), Step("bench", lambda: {"fps": 1.0}, 10, "benchmark")]
    run_steps(steps, writer, total_s=60, kernels_off="CuPy is not installed")
    checks = report["checks"]
    assert [checks[n]["status"] for n in ("passes", "fails", "kernel", "sees_the_report")] == \
        ["pass", "fail", "skipped", "pass"]
    assert report["benchmarks"]["bench"]["status"] == "pass"
    assert checks["kernel"]["reason"] == "CUDA kernels unusable: CuPy is not installed"
    tb = checks["fails"]["traceback"]
    assert "KeyError: 'missing'" in tb and "direct cause" in tb and tb.rstrip().endswith("the step's own error")
    assert report["first_failure"] == {"step": "fails", "error": "ValueError: the step's own error"}
    assert [line.split()[0] for line in lines] == ["PASS", "FAIL", "SKIPPED", "PASS", "PASS"]
    assert json.loads((tmp_path / "report.json").read_text())["benchmarks"]["bench"]["fps"] == 1.0


def test_a_step_past_its_limit_is_interrupted_and_the_next_still_runs(tmp_path):
    import time
    from tools.gpu_check import Step, run_steps

    def forever():
        try:
            while True:
                time.sleep(0.01)
        except Exception:  # a step that swallows errors still stops
            return {"pass": True}

    lines = []
    report, writer = _writer(tmp_path, lines)
    run_steps([Step("hangs", forever, 1), Step("after", lambda: {"pass": True}, 10),
               Step("late", lambda: {"pass": True}, 10)], writer, total_s=7)
    assert report["checks"]["hangs"]["status"] == "fail"
    assert report["checks"]["hangs"]["error"] == "timed out after 1 s"
    assert report["checks"]["after"]["status"] == "pass"


def test_steps_out_of_time_are_skipped(tmp_path):
    from tools.gpu_check import Step, run_steps
    report, writer = _writer(tmp_path, [])
    run_steps([Step("first", lambda: {"pass": True}, 10)], writer, total_s=2)
    assert report["checks"]["first"]["status"] == "skipped"
    assert report["checks"]["first"]["reason"].startswith("out of time")


def test_the_cupy_probe_step_skips_when_absent_and_fails_when_broken():
    from tools.gpu_check import probe_report, step_status
    from kernels.runtime import KernelProbe
    assert step_status(probe_report(KernelProbe(True))) == "pass"
    assert step_status(probe_report(KernelProbe(False, "CuPy is not installed", installed=False))) == "skipped"
    broken = probe_report(KernelProbe(False, "CuPy is installed but cannot run kernels (x)", True, "tb"))
    assert step_status(broken) == "fail" and broken["traceback"] == "tb"

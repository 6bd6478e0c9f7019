"""`bench --gpu-check` needs a GPU; its comparison and benchmark code is run here on the CPU (eager engine)."""
import numpy as np
import pytest
import torch

from centernet.errors import ConfigError
from centernet.jobs.gpu_check import bench_batched, check_graph_tasks, run_gpu_check


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


def test_batched_benchmark_reports_frames_per_second_on_the_cpu():
    r = bench_batched(_frames(2), batch=2, replays=1, device="cpu", precision="fp32", res=64)
    assert r["mode"] == "eager" and r["batch"] == 2 and r["fps"] > 0 and r["fps_batch_1"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available")
def test_gpu_check_without_a_gpu_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        run_gpu_check(tmp_path / "report.json")

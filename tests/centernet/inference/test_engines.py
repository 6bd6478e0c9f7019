"""The engine capability rules (each backend module's, asked through backends/registry.py): one answer for the Detector, the Engine, explore and the GUI."""
import pytest

from centernet.inference.backends.registry import ENGINE_NAMES, engine_unsupported_reason as reason


def test_eager_and_plain_run_anything_but_fp16_needs_cuda():
    assert reason("eager", "cpu", "fp32", "multi_pose", decodes_centernet=False, multi_scale=True,
                  fixed_size=False) is None
    assert reason("plain", "cpu", "fp16") is None, "plain runs the model as loaded: precision does not apply"
    assert "fp16 needs a CUDA GPU" in reason("eager", "cpu", "fp16")
    assert reason("eager", "cuda", "fp16") is None
    assert "bf16 is not supported" in reason("eager", "cuda", "bf16", gpu_bf16=False)
    assert "unknown precision" in reason("eager", "cpu", "int8")
    assert "unknown engine" in reason("tensorrt", "cuda")


@pytest.mark.parametrize("kwargs, why", [
    (dict(device="cpu"), "needs CUDA"),
    (dict(device="cuda", task="other"), "this is a other model"),
    (dict(device="cuda", fixed_size=False), "follows each image"),
    (dict(device="cuda", multi_scale=True), "multi-scale testing runs eager"),
    (dict(device="cpu", decodes_centernet=False), "decodes its own way"),
])
def test_graph_needs_cuda_a_pipeline_task_one_scale_and_a_fixed_size(kwargs, why):
    assert why in reason("graph", **kwargs)


def test_graph_serves_every_pipeline_task_on_cuda():
    for task in ("ctdet", "multi_pose", "ddd"):
        for precision in ("fp32", "fp16", "bf16", "auto"):
            assert reason("graph", "cuda", precision, task) is None


def test_onnxruntime_is_cpu_fp32_one_size_and_installed():
    assert reason("onnxruntime", "cpu", "fp32", installed={"onnxruntime": True}) is None
    assert reason("onnxruntime", "cpu", "auto") is None, "installed=None: not checked"
    assert "runs on the CPU" in reason("onnxruntime", "cuda")
    assert "runs fp32: drop --precision bf16" in reason("onnxruntime", "cpu", "bf16")
    assert "one fixed input size" in reason("onnxruntime", "cpu", multi_scale=True)
    assert "one fixed input size" in reason("onnxruntime", "cpu", fixed_size=False)
    assert "not installed" in reason("onnxruntime", "cpu", installed={"onnxruntime": False})


def test_openvino_runs_fp32_or_bf16_at_one_size_on_its_own_device():
    assert reason("openvino", "cuda", "bf16", installed={"openvino": True}) is None
    assert "fp32 or bf16" in reason("openvino", "cpu", "fp16")
    assert "one fixed input size" in reason("openvino", "cpu", fixed_size=False)
    assert "not installed" in reason("openvino", "cpu", installed={})


def test_every_engine_name_is_answered():
    for engine in ENGINE_NAMES:
        assert reason(engine, "cpu" if engine == "onnxruntime" else "cuda", "fp32") is None

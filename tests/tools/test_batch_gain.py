"""tools/batch_gain.py: which engines it times, how it reads a backend's batching, its verdict and table."""
import torch

from centernet.detections import Detections
from tools.batch_gain import Row, box_difference, cpu_configs, fixed_batch, format_table


def _dets(boxes, scores):
    return Detections(boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), scores=torch.tensor(scores),
                      labels=torch.zeros(len(scores), dtype=torch.long))


def test_every_cpu_engine_of_the_registry_at_its_cpu_precisions_and_no_gpu_only_one():
    configs = {(c.engine, c.precision) for c in cpu_configs()}
    assert {("eager", "fp32"), ("eager", "bf16"), ("openvino", "fp32"), ("openvino", "bf16"),
            ("onnxruntime", "fp32"), ("plain", "fp32")} <= configs
    assert not any(e == "graph" or p == "fp16" for e, p in configs)
    assert {(c.engine, c.precision) for c in cpu_configs(["onnxruntime", "nope"])} == {("onnxruntime", "fp32")}


def test_a_torch_backend_takes_any_batch_and_a_fixed_export_is_read_as_splitting():
    class Dim:
        is_static = True

        def get_length(self):
            return 1

    class OpenVino:
        fixed_batch = Dim()

    class Backend:
        model = OpenVino()

    assert fixed_batch(Backend()) == 1
    assert fixed_batch(type("Eager", (), {"model": torch.nn.Identity()})()) is None


def test_gain_is_per_frame_time_at_four_below_nine_tenths_of_batch_one():
    gains = Row("eager", "bf16", "whole", {1: 60.0, 4: 50.0, 8: 48.0})
    flat = Row("openvino", "bf16", "splits", {1: 30.0, 4: 28.0, 8: 29.0})
    assert gains.gains() and gains.ratio(8) == 0.8 and not flat.gains()
    table = format_table([gains, flat, Row("openvino", "fp32", "-", {}, "skipped: no runtime")], [1, 4, 8])
    assert "| eager | bf16 | whole | 60.0 | 50.0 | 48.0 | 0.83x | 0.80x | - | yes |" in table
    assert "| openvino | bf16 | splits | 30.0 | 28.0 | 29.0 | 0.93x | 0.97x | - | no |" in table
    assert table.splitlines()[-1].endswith("skipped: no runtime |")
    split_gain = format_table([Row("onnxruntime", "fp32", "splits", {1: 30.0, 4: 20.0})], [1, 4])
    assert split_gain.endswith("| yes, but it splits (pre/decode, or noise) |")


def test_box_difference_compares_detections_above_the_threshold():
    a = _dets([[0, 0, 10, 10], [5, 5, 20, 20]], [0.9, 0.1])
    b = _dets([[0, 0.5, 10, 10.25]], [0.8])
    assert box_difference([a], [b]) == 0.5
    assert box_difference([a], [_dets([], [])]) == float("inf")

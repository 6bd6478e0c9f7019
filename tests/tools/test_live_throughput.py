"""tools/live_throughput.py: the engines each side ran are compared, the ratio is the medians' ratio."""
from tools.live_throughput import ModelFigures, format_table, same_engine


def test_engines_agree_on_backend_and_precision_whatever_auto_says_about_its_timing():
    assert same_engine("openvino bf16 (auto: fastest of 3, 24 ms/forward)",
                       "openvino bf16 (auto: fastest of 3, 37 ms/forward)")
    assert not same_engine("openvino bf16 (asked for)", "openvino fp32 (asked for)")


def test_ratio_of_medians_and_a_differing_engine_is_shown_not_hidden():
    f = ModelFigures("ctdet", [40.0, 44.0, 42.0], [38.0, 36.0, 41.0], "openvino bf16 (auto)", "openvino bf16 (auto)")
    assert f.ratio == 38.0 / 42.0
    g = ModelFigures("movenet", [30.0], [20.0], "onnxruntime fp32 (auto)", "openvino bf16 (auto)")
    table = format_table([f, g])
    assert "| ctdet | openvino bf16 (auto) | 42.0 (40.0, 44.0, 42.0) | 38.0 (38.0, 36.0, 41.0) | 0.90 (met) |" in table
    assert "differ: Detector onnxruntime fp32 (auto); headless openvino bf16 (auto)" in table
    assert table.splitlines()[-1].endswith("| 0.67 (below) |")
    assert ModelFigures("x").ratio is None

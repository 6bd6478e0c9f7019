"""`--engine auto` on a CPU: the fastest candidate by a (here fake) measurement, cached per key."""
import json

import pytest

from centernet.inference.backends.cpu_choice import Candidate, choice_key, choose_cpu_engine, cpu_candidates

FP32 = [Candidate("eager", "fp32"), Candidate("onnxruntime", "fp32"), Candidate("openvino", "fp32")]


@pytest.fixture(autouse=True)
def measured(monkeypatch):
    monkeypatch.delenv("CENTERNET_CPU_ENGINE", raising=False)


def test_candidates_follow_precision_and_deformable_convs():
    both = {"onnxruntime": True, "openvino": True}
    assert cpu_candidates("fp32", "fp32", False, both) == FP32
    assert cpu_candidates("bf16", "bf16", False, both) == [Candidate("eager", "bf16"), Candidate("openvino", "bf16")]
    assert Candidate("onnxruntime", "fp32") in cpu_candidates("bf16", "auto", False, both)  # auto may pick fp32
    assert cpu_candidates("fp32", "fp32", True, both) == [Candidate("eager", "fp32")]
    assert cpu_candidates("fp32", "fp32", False, {"onnxruntime": False, "openvino": True}) == \
        [Candidate("eager", "fp32"), Candidate("openvino", "fp32")]


def fake(ms: dict, calls: list):
    def measure(label, run):
        calls.append(label)
        run()
        return ms[label]
    return measure


def test_picks_the_fastest_says_why_and_caches_per_key(tmp_path):
    cache = tmp_path / "engine_choice.json"
    built, calls = [], []

    def build(c):
        built.append(c.label)
        return lambda x: x.shape

    ms = {"eager fp32": 61.0, "onnxruntime fp32": 54.0, "openvino fp32": 24.0}
    key = choice_key("ab" * 32, (512, 512), "fp32", "Some CPU", 2)
    choice = choose_cpu_engine(FP32, key, build, (512, 512), cache, fake(ms, calls))
    assert (choice.engine, choice.precision) == ("openvino", "fp32")
    assert choice.reason.startswith("openvino fp32: 24 ms/forward, fastest of 3")
    assert "eager fp32 61" in choice.reason and "onnxruntime fp32 54" in choice.reason
    assert calls == ["eager fp32", "onnxruntime fp32", "openvino fp32"]
    assert json.loads(cache.read_text())[key]["engine"] == "openvino"

    again = choose_cpu_engine(FP32, key, build, (512, 512), cache, fake({}, calls))  # cached: nothing measured
    assert again.engine == "openvino" and "cached" in again.reason and len(calls) == 3

    other = choice_key("ab" * 32, (512, 512), "fp32", "Some CPU", 1)  # one thread: measured anew
    ms1 = {"eager fp32": 90.0, "onnxruntime fp32": 80.0, "openvino fp32": 95.0}
    assert choose_cpu_engine(FP32, other, build, (512, 512), cache, fake(ms1, calls)).engine == "onnxruntime"
    assert len(calls) == 6 and set(json.loads(cache.read_text())) == {key, other}


def test_a_candidate_that_cannot_be_built_is_skipped(tmp_path):
    def build(c):
        if c.engine == "openvino":
            raise RuntimeError("no openvino here")
        return lambda x: None

    ms = {"eager fp32": 30.0, "onnxruntime fp32": 40.0}
    choice = choose_cpu_engine(FP32, "k", build, (64, 64), tmp_path / "c.json", fake(ms, []))
    assert choice.engine == "eager" and "fastest of 2" in choice.reason


def test_one_candidate_or_the_override_measures_nothing(tmp_path, monkeypatch):
    def never(label, run):
        raise AssertionError("measured")

    only = choose_cpu_engine(FP32[:1], "k", lambda c: None, (64, 64), tmp_path / "c.json", never)
    assert only.engine == "eager" and "only CPU engine" in only.reason
    monkeypatch.setenv("CENTERNET_CPU_ENGINE", "onnxruntime")
    forced = choose_cpu_engine(FP32, "k", lambda c: None, (64, 64), tmp_path / "c.json", never)
    assert forced.engine == "onnxruntime" and "CENTERNET_CPU_ENGINE" in forced.reason
    assert not (tmp_path / "c.json").exists()


def test_detector_auto_on_cpu_reports_its_choice(seeded_checkpoint, tmp_path, monkeypatch):
    from centernet.inference.detector import Detector
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CENTERNET_CPU_ENGINE", "eager")
    det = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", input_size=(128, 128))
    assert det.engine_name == "eager" and "set by CENTERNET_CPU_ENGINE" in det.engine_reason
    dcn = Detector.from_checkpoint(seeded_checkpoint("ctdet", "resdcn_18"), device="cpu", input_size=(128, 128))
    assert dcn.engine_name == "eager"


@pytest.mark.slow
def test_detector_auto_measures_once_then_reads_the_cache(seeded_checkpoint, tmp_path, monkeypatch):
    import cv2
    import torch
    from centernet.inference.detector import Detector
    from tests.conftest import DATA, need
    pytest.importorskip("openvino", reason="openvino is not installed")
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    image = cv2.imread(str(need(DATA / "images" / "bus.jpg")))
    path = seeded_checkpoint("ctdet", "res_18")
    first = Detector.from_checkpoint(path, device="cpu", input_size=(128, 128))
    assert first.engine_name in ("eager", "onnxruntime", "openvino") and "measured now" in first.engine_reason
    assert first.engine_reason.startswith(first.engine_name)
    cached = json.loads((tmp_path / "home" / "engine_choice.json").read_text())
    assert len(cached) == 1 and set(next(iter(cached.values()))["timings_ms"]) == \
        {"eager fp32", "onnxruntime fp32", "openvino fp32"}
    second = Detector.from_checkpoint(path, device="cpu", input_size=(128, 128))
    assert second.engine_name == first.engine_name and "cached" in second.engine_reason
    eager = Detector.from_checkpoint(path, device="cpu", input_size=(128, 128), engine="eager")(image)
    torch.testing.assert_close(second(image).boxes[:10], eager.boxes[:10], rtol=0, atol=0.05)  # the top rows

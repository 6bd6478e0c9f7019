"""The engine's CPU path and its shape handling; CUDA-graph tests are marked and skip without a GPU."""
import numpy as np
import pytest
import torch

from centernet.bench import agreement, bench
from centernet.decode import ctdet_decode_batch, ctdet_decode_fixed
from centernet.engine import Engine, prepare_model
from centernet.model import build_model
from centernet.transforms import PreprocessSpec, preprocess
from tests.conftest import seeded_state_dict


@pytest.fixture(scope="module")
def res18():
    m = build_model("res_18", "ctdet")
    m.load_state_dict(seeded_state_dict("ctdet", "res_18"))
    return m.eval()


def test_cpu_engine_equals_the_plain_model(res18):
    x = torch.randn(1, 3, 256, 256)
    eng = Engine(res18, PreprocessSpec(input_size=(256, 256)), torch.device("cpu"))
    assert eng.mode == "eager" and eng.precision == "fp32"
    with torch.inference_mode():
        ref, fast = res18(x), eng.forward(x)
    for k in ref:
        assert torch.allclose(ref[k], fast[k], atol=1e-4, rtol=1e-4), k
    assert next(res18.parameters()).is_contiguous()  # the original model is untouched


def test_engine_handles_changing_input_sizes(res18):
    eng = Engine(res18, PreprocessSpec(), torch.device("cpu"))
    with torch.inference_mode():
        for hw in ((256, 256), (384, 640), (256, 256)):
            out = eng.forward(torch.randn(2, 3, *hw))
            assert out["hm"].shape == (2, 80, hw[0] // 4, hw[1] // 4)
    assert eng.stats.eager_runs == 3


def test_graph_mode_without_cuda_is_refused_clearly(res18):
    with pytest.raises(ValueError, match="needs CUDA"):
        Engine(res18, PreprocessSpec(), torch.device("cpu"), mode="graph")


def test_graph_mode_for_any_pipeline_task_without_cuda_is_refused_clearly(res18):
    with pytest.raises(ValueError, match="needs CUDA, a ctdet, multi_pose or ddd model"):
        Engine(res18, PreprocessSpec(), torch.device("cpu"), mode="graph", task="ddd")


def test_run_frames_off_the_gpu_runs_the_frame_pipeline_cached_by_shape_in_a_bounded_lru(res18):
    eng = Engine(res18, PreprocessSpec(input_size=(128, 128)), torch.device("cpu"), k=20, max_graphs=2)
    rng = np.random.default_rng(0)
    frames = {hw: [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for _ in range(2)]
              for hw in ((96, 160), (120, 120), (64, 64))}
    out = eng.run_frames(frames[(96, 160)])
    assert out.detections.boxes.shape == (2, 20, 4) and out.detections.boxes.device.type == "cpu"
    assert out.transform.image_size == (96, 160) and out.transform.input_size == (128, 128)
    for hw in ((96, 160), (120, 120), (96, 160), (64, 64)):  # the third size evicts the least recently used
        eng.run_frames(frames[hw])
    eng.run_frames(frames[(96, 160)], flip=True)  # flip is part of the key
    assert eng.stats.evictions == 2 and eng.stats.eager_runs == 6 and eng.stats.captures == 0
    legacy = eng.run_graph(frames[(64, 64)])  # per frame (scores, classes, boxes, transform), zero rows kept
    assert len(legacy) == 2 and legacy[0][0].shape == (20,) and legacy[0][2].shape == (20, 4)


def test_detector_refuses_the_graph_engine_for_multi_scale_and_movenet(res18):
    from centernet.checkpoint import info_for_original
    from centernet.detector import Detector
    from centernet.errors import ConfigError
    from centernet.zoo import DEFAULT_MODELS
    info = info_for_original(res18.state_dict(), "res_18", "ctdet")
    with pytest.raises(ConfigError, match="multi-scale testing runs eager"):
        Detector(res18, info, device="cpu", engine="graph", scales=(1.0, 0.5))
    assert Detector(res18, info, device="cpu", engine="auto", scales=(1.0, 0.5)).engine.mode == "eager"
    if DEFAULT_MODELS["multi_pose"].exists():  # MoveNet
        with pytest.raises(ConfigError, match="decodes its own way"):
            Detector.from_checkpoint(None, task="multi_pose", device="cpu", engine="graph")


def test_fixed_shape_decode_equals_the_pure_decode():
    torch.manual_seed(0)
    hm, wh, reg = torch.randn(2, 5, 32, 32), torch.rand(2, 2, 32, 32) * 8, torch.rand(2, 2, 32, 32)
    fixed = ctdet_decode_fixed(hm, wh, reg, 50, "size")
    assert fixed.scores.shape == (2, 50) and fixed.boxes.shape == (2, 50, 4)
    for i, dets in enumerate(ctdet_decode_batch(hm, wh, reg, k=50)):
        keep = fixed.scores[i] > 0
        assert torch.equal(dets.scores, fixed.scores[i][keep]) and torch.equal(dets.boxes, fixed.boxes[i][keep])


def test_bench_compares_engine_and_plain_path_in_one_run(res18):
    r = bench(None, "res_18", "ctdet", 256, "fp32", "eager", frames=2, warmup=1, device="cpu")
    assert r["engine"]["mode"] == "eager" and r["speedup"] > 0
    assert set(r["engine"]["stages"]) >= {"pre", "net", "decode", "total"}
    assert r["agreement"] >= 0.99  # folded batch norm changes nothing that matters


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_graph_equals_eager(res18):
    spec = PreprocessSpec()
    frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    eng = Engine(res18, spec, torch.device("cuda"), "fp32", "graph")
    s, c, b, _ = eng.run_graph([frame])[0]
    x, _ = preprocess(frame, spec)
    with torch.inference_mode():
        h = res18.cuda()(x.cuda())
    ref = ctdet_decode_batch(h["hm"], h["wh"], h["reg"])[0].to("cpu")
    from centernet.detections import Detections
    assert agreement([ref], [Detections(b[s > 0], s[s > 0], c[s > 0])]) >= 0.99
    eng.run_graph([frame[:360, :640].copy()])
    assert eng.stats.captures == 2

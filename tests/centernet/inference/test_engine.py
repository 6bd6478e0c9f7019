"""The engine's CPU path and its shape handling; CUDA-graph tests are marked and skip without a GPU."""
import numpy as np
import pytest
import torch

from centernet.jobs.bench import BenchOptions, agreement, bench
from centernet.inference.decode import ctdet_decode_batch, ctdet_decode_fixed
from centernet.inference.backends.torch_engine import Engine, prepare_model
from centernet.models.build import build_model
from centernet.geometry.transforms import PreprocessSpec, preprocess
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


def test_run_frames_off_the_gpu_runs_one_frame_pipeline_for_every_size_cached_by_spec_in_a_bounded_lru(res18):
    """Each frame's warp is data: frames of any sizes share one pipeline (and one run); the input
    resolution and flip are what make another, kept in a bounded LRU."""
    eng = Engine(res18, PreprocessSpec(input_size=(128, 128)), torch.device("cpu"), k=20, max_graphs=2)
    rng = np.random.default_rng(0)
    frames = {hw: [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for _ in range(2)]
              for hw in ((96, 160), (120, 120), (64, 64))}
    out = eng.run_frames(frames[(96, 160)])
    assert out.detections.boxes.shape == (2, 20, 4) and out.detections.boxes.device.type == "cpu"
    assert out.transforms[0].image_size == (96, 160) and out.transforms[0].input_size == (128, 128)
    mixed = eng.run_frames([frames[(96, 160)][0], frames[(120, 120)][0], frames[(64, 64)][0]])  # one run
    assert [tf.image_size for tf in mixed.transforms] == [(96, 160), (120, 120), (64, 64)]
    assert eng.stats.evictions == 0 and len(eng._cache) == 1
    specs = {n: PreprocessSpec(input_size=(n, n)) for n in (128, 96, 64)}
    for n in (128, 96, 64):  # the third resolution evicts the least recently used
        eng.run_frames(frames[(120, 120)], spec=specs[n])
    eng.run_frames(frames[(96, 160)], spec=specs[64], flip=True)  # flip is part of the key
    assert eng.stats.evictions == 2 and eng.stats.eager_runs == 6 and eng.stats.captures == 0
    legacy = eng.run_graph(frames[(64, 64)])  # per frame (scores, classes, boxes, transform), zero rows kept
    assert len(legacy) == 2 and legacy[0][0].shape == (20,) and legacy[0][2].shape == (20, 4)


def test_detector_refuses_the_graph_engine_for_multi_scale_and_movenet(res18):
    from centernet.models.checkpoint import info_for_original
    from centernet.inference.detector import Detector
    from centernet.errors import ConfigError
    from centernet.models.zoo import DEFAULT_MODELS
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
    r = bench(BenchOptions(None, "res_18", "ctdet", 256, "fp32", "eager", frames=2, warmup=1, device="cpu"))
    assert r["engine"]["mode"] == "eager" and r["engine"]["precision"] == "fp32" and r["speedup"] > 0
    assert set(r["engine"]["stages"]) >= {"pre", "net", "decode", "post", "total"}
    assert [v["name"] for v in r["variants"]] == ["plain fp32 eager", "engine eager fp32"]
    assert r["variants"][0]["speedup"] == 1.0
    assert r["agreement"] >= 0.99  # folded batch norm changes nothing that matters


def test_bench_ablation_times_each_cpu_step_and_batches(tmp_path):
    from centernet.inference.backends.torch_engine import cpu_has_native_bf16
    r = bench(BenchOptions(None, "resdcn_18", "ctdet", 128, "fp32", "eager", frames=1, warmup=0, device="cpu",
                           batch=2, ablation=True))
    names = [v["name"] for v in r["variants"]]
    assert names[0] == "plain fp32 eager" and names[-1] == "engine eager fp32"
    assert "+ channels_last, BN folded" in names and "+ gathered deform conv" in names
    assert ("+ bf16" in names) == cpu_has_native_bf16()
    assert "onnxruntime fp32" in names  # the dev extras bring onnx and onnxruntime
    assert r["batch"] == 2
    for v in r["variants"]:  # stage times are per image (the batch's time over 2): FPS follows from them
        assert v["fps"] == pytest.approx(1000 / v["stages"]["total"]["median"], rel=0.01)


def test_the_baseline_decode_finds_the_same_detections_as_the_library_decode():
    from centernet.jobs.bench import straightforward_ctdet_decode
    gen = torch.Generator().manual_seed(5)
    hm = torch.randn(2, 80, 40, 48, generator=gen) * 2 - 3
    wh, reg = torch.rand(2, 2, 40, 48, generator=gen) * 20, torch.rand(2, 2, 40, 48, generator=gen)
    baseline = straightforward_ctdet_decode(hm, wh, reg, 100, "size")
    for ours, base in zip(ctdet_decode_batch(hm, wh, reg, k=100), baseline):
        assert len(ours) == len(base) == 100
        torch.testing.assert_close(base.scores, ours.scores, rtol=0, atol=0)
        assert torch.equal(base.labels, ours.labels)
        torch.testing.assert_close(base.boxes, ours.boxes, rtol=0, atol=1e-5)


def test_precision_auto_picks_bf16_on_a_cpu_with_native_bfloat16_and_fp16_is_refused_there():
    from centernet.inference.backends.torch_engine import cpu_has_native_bf16, resolve_precision
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert resolve_precision("bf16", cpu) == "bf16" and resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="fp16 needs a CUDA GPU.*bf16"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int8", cpu)


def test_prepared_copy_leaves_the_loaded_model_as_it_was():
    from centernet.models.backbones.dcn import DCN
    model = build_model("resdcn_18", "ctdet").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for fold in (True, False):
        fast = prepare_model(model, torch.device("cpu"), "bf16", fold_bn=fold)
        assert all(m.fast for m in fast.modules() if isinstance(m, DCN))
    assert not any(m.fast for m in model.modules() if isinstance(m, DCN))
    after = model.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())


def test_cpu_engine_agreement_with_the_plain_model_on_real_weights_fp32_and_bf16():
    """Real weights (seeded ones give near-tied scores): the share of the plain model's detections
    above 0.3 found again with the same class, IoU >= 0.95 and |dscore| <= 0.02. fp32 engine (BN
    folded, channels_last): all of them. bf16: ~90 % on these images (its AP on coco_mini is the
    same as fp32's: the strict bar counts small box and score moves)."""
    import cv2
    from centernet.inference.detector import Detector
    from tests.conftest import DATA, need
    paths = sorted(need(DATA / "demo_images").glob("*.jpg"))[:4] + [need(DATA / "images" / "bus.jpg")]
    images = [cv2.imread(str(p)) for p in paths]
    plain = Detector.from_checkpoint(device="cpu", engine="plain").detect_batch(images)
    assert sum(len(d.above(0.3)) for d in plain) >= 30  # enough detections for the share to mean something
    fp32 = Detector.from_checkpoint(device="cpu", precision="fp32").detect_batch(images)
    bf16_det = Detector.from_checkpoint(device="cpu", precision="bf16")
    assert bf16_det.engine.precision == "bf16"
    bf16 = bf16_det.detect_batch(images)
    assert agreement(plain, fp32) == 1.0
    assert 0.85 <= agreement(plain, bf16) < 1.0


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


def test_bench_frames_spread_over_the_clip_and_keep_its_aspect():
    from centernet.jobs.bench import bench_frames
    frames = bench_frames(4)
    assert len(frames) == 4 and all(f.shape == (720, 1280, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # first and last frames of the clip differ
    # the 640x272 clip fills the width: black bars above and below, picture in the middle
    assert frames[1][:50].max() == 0 and frames[1][-50:].max() == 0 and frames[1][360].std() > 5


def test_engine_stats_hold_the_last_batchs_stage_times(res18):
    from centernet.models.checkpoint import info_for_original
    from centernet.inference.detector import Detector
    det = Detector(res18, info_for_original(res18.state_dict(), "res_18", "ctdet"), "cpu", input_size=(128, 128))
    frame = np.random.default_rng(1).integers(0, 255, (100, 160, 3), dtype=np.uint8)
    dets = det.detect_batch([frame, frame])
    assert set(det.engine.stats.last_times) == {"pre", "net", "decode", "post"}
    assert det.engine.stats.last_times == dets[0].timings and det.engine.stats.eager_runs == 1

"""The openvino engine: device choice, the 1/6 fusion guard, and detections equal to the torch engine's
on real images for ctdet (default MobileNetV3), multi_pose (default MoveNet) and ddd (a seeded res_18)."""
import cv2
import numpy as np
import pytest
import torch

from centernet.errors import ConfigError
from centernet.inference.openvino_engine import choose_openvino_device, guard_one_sixth_constants
from tests.conftest import DATA, need

pytest.importorskip("openvino", reason="openvino is not installed (pip install -e .[dev])")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install -e .[dev])")


def test_device_choice():
    assert choose_openvino_device("auto", ["CPU", "GPU.0"]) == "CPU"
    assert choose_openvino_device("cpu", ["CPU"]) == "CPU"
    assert choose_openvino_device("gpu", ["CPU", "GPU.0", "GPU.1"]) == "GPU.0"
    assert choose_openvino_device("GPU.1", ["CPU", "GPU.0", "GPU.1"]) == "GPU.1"
    with pytest.raises(ConfigError, match="sees no Intel GPU here .*use --device cpu"):
        choose_openvino_device("gpu", ["CPU"])
    with pytest.raises(ConfigError, match="not 'cuda'"):
        choose_openvino_device("cuda", ["CPU"])


def test_near_one_sixth_factors_become_divisions_exact_ones_stay():
    from onnx import TensorProto, helper, numpy_helper
    tf16 = np.array(0.1666259765625, np.float32)  # the TF graphs' float16 constant (tf_layers.py)
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "c"], ["y"]), helper.make_node("Mul", ["sixth", "y"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(tf16, "c"), numpy_helper.from_array(np.array(1 / 6, np.float32), "sixth")])
    proto = helper.make_model(graph)
    assert guard_one_sixth_constants(proto) == 1
    div, mul = proto.graph.node
    assert (div.op_type, div.input[0], mul.op_type) == ("Div", "x", "Mul")
    recip = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}[div.input[1]]
    assert abs(float(recip) * float(tf16) - 1) < 1e-7


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One export cache for the module (each model exports once)."""
    return tmp_path_factory.mktemp("home")


def assert_same_detections(a, b, threshold=0.05):
    """Every detection of `a` above threshold is in `b`: same class, score within 1e-4, box (and joints,
    3D location) within 0.05 px / 1 mm or 3e-4 relative. Matched by content: near-tied scores may swap places."""
    last = float(b.scores.min()) + 1e-4  # rows tied with b's last kept row may fall off its top K
    rows = [i for i in range(len(a)) if a.scores[i] > max(threshold, last)]
    assert rows, "no detections to compare"
    for i in rows:
        near = (b.labels == a.labels[i]) & ((b.scores - a.scores[i]).abs() <= 1e-4)
        near &= (b.boxes - a.boxes[i]).abs().amax(1) <= 0.05
        if a.keypoints is not None:
            near &= (b.keypoints - a.keypoints[i]).abs().flatten(1).amax(1) <= 0.05
        if a.location is not None:  # 1 mm, or 3e-4 relative: depth = 1/sigmoid - 1 is steep far away
            tol = torch.clamp(3e-4 * a.location[i].abs(), min=1e-3)
            near &= ((b.location - a.location[i]).abs() <= tol).all(1)
        assert near.any(), f"detection {i} (class {int(a.labels[i])}, score {float(a.scores[i]):.4f}) has no match"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["ctdet", "multi_pose"])
def test_default_models_detect_like_the_torch_engine(task, home, monkeypatch):
    from centernet.inference.detector import Detector
    monkeypatch.setenv("CENTERNET_HOME", str(home))
    folder = need(DATA / "demo_images")
    images = [cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))[:2]]
    eager = Detector.from_checkpoint(None, task=task, device="cpu", engine="eager")
    ov = Detector.from_checkpoint(None, task=task, device="cpu", engine="openvino")
    assert ov.engine_name == "openvino" and ov.engine is None and ov.backend.precision == "fp32"
    for image in images:
        assert_same_detections(eager(image), ov(image))
    assert len(list((home / "openvino").glob(f"*_{task}_*.onnx"))) == 1  # converted once, cached


@pytest.mark.slow
def test_ddd_detects_like_the_torch_engine(home, monkeypatch):
    from centernet.inference.detector import Detector
    from centernet.models.build import build_model
    from centernet.models.checkpoint import info_for_original
    monkeypatch.setenv("CENTERNET_HOME", str(home))
    image = cv2.imread(str(next(iter(sorted(need(DATA / "kitti").rglob("*.png"))))))
    torch.manual_seed(0)
    model = build_model("res_18", "ddd")  # default initialisation: a flat heatmap, every score tied
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(m.weight)
    with torch.no_grad():
        model.hm[-1].weight.mul_(0.05)
        model.hm[-1].bias.add_(1.0)  # scores 0.64-0.86: past ddd's 0.2 threshold, distinct
    info = info_for_original(model.state_dict(), "res_18", "ddd")
    eager = Detector(model, info, "cpu", engine="eager", input_size=(192, 640))
    ov = Detector(model, info, "cpu", engine="openvino", input_size=(192, 640))
    assert_same_detections(eager(image), ov(image), threshold=0.2)


def test_refuses_deformable_convs_and_per_image_sizes(seeded_checkpoint, tmp_path, monkeypatch):
    from centernet.inference.detector import Detector
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigError, match="cannot run resdcn_18's deformable convolutions"):
        Detector.from_checkpoint(seeded_checkpoint("ctdet", "resdcn_18"), device="cpu", engine="openvino")
    with pytest.raises(ConfigError, match="one fixed input size"):
        Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", engine="openvino", keep_res=True)
    assert not (tmp_path / "home").exists()  # refused before anything was exported


@pytest.mark.parametrize("k", [5, 100, 10_000])
def test_the_graph_s_peaks_are_the_decoder_s_top_k_in_score_class_pixel_order(k):
    """A heatmap with plateaus, repeated peak values and fewer peaks than K: the compiled graph's top K,
    through `peaks_from_flat_index`, is the peak-masked map's K best in (score, class, pixel) order
    (cells tied with the K-th score may be any of them) and the same cells as the torch decoder's."""
    import openvino as ov
    import openvino.opset13 as ops
    from centernet.inference.decode import peak_mask_scores, peaks_from_flat_index, topk_peaks
    from centernet.inference.openvino_engine import PEAK_INDEX, PEAK_SCORES, add_peak_outputs
    rng = np.random.default_rng(3)
    logits = np.round(rng.normal(-2, 2, (1, 3, 24, 40)), 1).astype(np.float32)  # rounding makes equal peaks
    logits[0, 1, 5:8, 5:8] = 4.0        # a plateau: every cell is its 3x3 maximum
    logits[0, 2, 10, 30] = logits[0, 0, 2, 3] = 5.0
    param = ops.parameter([1, 3, 24, 40], np.float32)
    head = ops.result(ops.relu(param))   # any graph ending in a head named hm
    head.output(0).set_names({"hm"})
    model = ov.Model([head], [param])
    assert add_peak_outputs(model, k)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    out = compiled({0: logits})
    scores = torch.from_numpy(out[compiled.output(PEAK_SCORES)])
    index = torch.from_numpy(out[compiled.output(PEAK_INDEX)])
    masked = peak_mask_scores(torch.sigmoid(torch.from_numpy(logits).relu())).reshape(-1).numpy()
    k = min(k, masked.size)
    stable = np.lexsort((np.arange(masked.size), -masked))[:k]   # by score, then (class, pixel)
    got_scores, classes, ys, xs, pixel = peaks_from_flat_index(scores, index, logits.shape)
    got = (classes * 24 + ys) * 40 + xs
    assert got.shape == (1, k) and torch.equal(pixel, ys * 40 + xs)
    np.testing.assert_allclose(got_scores[0].numpy(), masked[stable], rtol=0, atol=1e-6)
    last = masked[stable[-1]]   # cells tied with the K-th score: the top-K may take any of them
    above = masked[stable] > last
    assert np.array_equal(got[0].numpy()[above], stable[above])
    assert np.all(masked[got[0].numpy()[~above]] == last)
    assert len(set(got[0].tolist())) == k
    want = topk_peaks(torch.from_numpy(masked.reshape(logits.shape)), k)   # the torch decoder: the same cells
    want_index = want[1][0] * 24 * 40 + want[4][0]
    assert sorted(got[0][torch.from_numpy(above)].tolist()) == sorted(want_index[want[0][0] > float(last)].tolist())


def test_a_model_without_a_centre_heatmap_gains_no_peak_outputs():
    import openvino as ov
    import openvino.opset13 as ops
    from centernet.inference.openvino_engine import add_peak_outputs
    param = ops.parameter([1, 17, 8, 8], np.float32)
    head = ops.result(ops.relu(param))
    head.output(0).set_names({"kpt_heatmap"})
    model = ov.Model([head], [param])
    assert not add_peak_outputs(model, 20) and len(model.get_results()) == 1


def test_parallel_runs_switch_to_cpu_streams_and_back_with_the_same_detections(seeded_checkpoint, home, monkeypatch,
                                                                                 two_cpu_threads):
    from centernet.inference.detector import Detector
    monkeypatch.setenv("CENTERNET_HOME", str(home))
    image = cv2.imread(str(sorted(need(DATA / "demo_images").glob("*.jpg"))[0]))
    ov = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", engine="openvino",
                                  input_size=(96, 96))
    model = ov.backend.model
    one = model.compiled
    alone = ov(image)
    assert model.parallel_runs == 1 and int(one.get_property("NUM_STREAMS")) == 1
    ov.backend.set_parallel_runs(2)
    two = model.compiled
    streams = int(two.get_property("NUM_STREAMS"))
    assert model.threads == 2 and two is not one and model.parallel_runs == streams == 2
    assert_same_detections(alone, ov(image))            # the same fp32 network, split differently over threads
    ov.backend.set_parallel_runs(1)
    assert model.compiled is one and model.parallel_runs == 1   # compiled once each: a switch back is free
    ov.backend.set_parallel_runs(2)
    assert model.compiled is two

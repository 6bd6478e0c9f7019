"""The shipped default models against the TF.js graphs they were converted from.

Reference numbers (tests/data/default_models/*.json) come from running the package's graphs with
@tensorflow/tfjs 4.22.0 on exactly the input tensors these tests build (tools/make_default_model_refs.py):
the raw heads must agree within 1e-3 and the decoded output must be the graph's own.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from centernet.models.checkpoint import load_checkpoint, read_file
from centernet.classes import COCO_CLASSES
from centernet.inference.decode import ctdet_decode
from centernet.inference.decode_movenet import movenet_decode
from centernet.geometry.transforms import PreprocessSpec, preprocess
from centernet.models.zoo import DEFAULT_MODELS
from tests.conftest import DATA, ROOT, need

REFS = ROOT / "tests" / "data" / "default_models"
HEAD_TOL = 1e-3
MOVENET_HEADS = ("center", "box_scale", "box_offset", "kpt_heatmap", "kpt_regress", "kpt_offset")


def runs(model: str) -> list[dict]:
    return json.loads((REFS / f"{model}.json").read_text())["runs"]


def run_id(run: dict) -> str:
    return f"{Path(run['image']).stem}-{run['input_size']}"


@lru_cache(maxsize=None)
def network(task: str):
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return load_checkpoint(DEFAULT_MODELS[task])


@lru_cache(maxsize=None)
def forward(task: str, image: str, size: int) -> tuple[torch.Tensor, dict]:
    net, info = network(task)
    x, _ = preprocess(cv2.imread(str(need(DATA / image))), info.preprocess.with_input_size(size, size))
    with torch.inference_mode():
        return x, net(x)


def check_input(task: str, x: torch.Tensor, run: dict) -> None:
    """The test feeds the tensor the graph was fed: same pre-processing rule, same values."""
    spec = network(task)[1].preprocess.with_input_size(run["input_size"], run["input_size"])
    assert spec == PreprocessSpec.from_dict(run["preprocess"]), \
        "the checkpoint's pre-processing changed: remake the references (tools/make_default_model_refs.py)"
    a = x.double()
    assert list(x.shape) == run["input"]["shape"]
    assert float(a.sum()) == pytest.approx(run["input"]["sum"], rel=1e-12), \
        "the pre-processed input differs from the one the graph was run on (OpenCV version?)"
    assert float((a * a).sum()) == pytest.approx(run["input"]["sum_sq"], rel=1e-12)


def check_heads(outputs: dict, run: dict) -> None:
    for head, ref in run["heads"].items():
        out = outputs[head][0].numpy()
        assert list(out.shape) == ref["shape"]
        probes = np.array(ref["probes"])
        got = out[probes[:, 0], probes[:, 1], probes[:, 2]]
        np.testing.assert_allclose(got, ref["values"], rtol=0, atol=HEAD_TOL, err_msg=head)
        # channel sums: mean error per cell well under the 1e-3 bound
        cells = ref["shape"][1] * ref["shape"][2]
        np.testing.assert_allclose(out.astype(np.float64).sum(axis=(1, 2)), ref["channel_sums"],
                                   rtol=0, atol=1e-4 * cells, err_msg=head)


# --- the files --------------------------------------------------------------------------------------

@pytest.mark.parametrize("task, arch, heads", [
    ("ctdet", "mobilenetv3", {"hm": 80, "wh": 4}),
    ("multi_pose", "movenet", dict(zip(MOVENET_HEADS, (1, 2, 2, 17, 34, 34)))),
])
def test_shipped_checkpoint_loads_strictly_and_records_how_to_use_it(task, arch, heads):
    raw = read_file(DEFAULT_MODELS[task])     # weights_only=True
    assert raw["format"] == "centernet-live" and raw["format_version"] == 1
    assert all(t.dtype == torch.float16 for t in raw["state_dict"].values())
    assert raw["meta"]["version"] == "3.0.4" and len(raw["meta"]["sha256"]) == 2
    model, info = load_checkpoint(DEFAULT_MODELS[task])
    assert (info.arch, info.task, info.heads, info.format) == (arch, task, heads, "default model")
    assert model.num_stacks == 1
    spec = info.preprocess
    assert (spec.resize, spec.channel_order, spec.pixel_scale, spec.mean, spec.std) == \
        ("pad_square", "rgb", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    if task == "ctdet":
        assert spec.input_size == (512, 512) and not spec.truncate_pixels
        assert info.class_names == COCO_CLASSES
        assert info.decode == {"rule": "centernet", "box_mode": "ltrb", "k": 100}
    else:
        assert spec.input_size == (384, 384) and spec.truncate_pixels
        assert info.class_names == ("person",)
        assert info.decode == {"rule": "movenet", "k": 6}


def load_converter():
    import importlib.util
    path = ROOT / "tools" / "convert_default_models.py"
    spec = importlib.util.spec_from_file_location("convert_default_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_weights_are_the_ones_provenance_md_names():
    converter = load_converter()
    provenance = (DEFAULT_MODELS["ctdet"].parent / "PROVENANCE.md").read_text()
    for path in DEFAULT_MODELS.values():
        digest = converter.state_sha256(read_file(path)["state_dict"])
        row = next(line for line in provenance.splitlines() if line.startswith(f"| `{path.name}`"))
        assert f"`{digest}`" in row, f"{path.name}: tensors differ from PROVENANCE.md; rerun the converter"
    assert (DEFAULT_MODELS["ctdet"].parent / "NOTICE").read_text().count("MIT License") == 1


def test_resaving_a_shipped_checkpoint_gives_the_same_bytes():
    converter = load_converter()
    provenance = (DEFAULT_MODELS["ctdet"].parent / "PROVENANCE.md").read_text()
    if f"(torch {torch.__version__.split('+')[0]})" not in provenance:
        pytest.skip(f"the files were written by another torch version than {torch.__version__}")
    path = DEFAULT_MODELS["ctdet"]
    assert converter.checkpoint_bytes(read_file(path)) == path.read_bytes()


def test_checkpoint_preprocess_round_trips_through_a_plain_dict():
    raw = read_file(DEFAULT_MODELS["multi_pose"])
    assert isinstance(raw["preprocess"]["input_size"], list)  # plain types only in the file
    spec = PreprocessSpec.from_dict(raw["preprocess"])
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("size", [352, 300])  # 352: odd stride-32 map; 300: not a multiple of 32
def test_mobilenetv3_runs_at_other_input_sizes(size):
    net, _ = network("ctdet")
    with torch.inference_mode():
        out = net(torch.rand(1, 3, size, size) * 255)
    cells = -(-size // 4)
    assert out["hm"].shape == (1, 80, cells, cells) and out["wh"].shape == (1, 4, cells, cells)


# --- centernet (mobilenetv3) against tower_0/* --------------------------------------------------------

@pytest.mark.parametrize("run", runs("centernet"), ids=run_id)
def test_mobilenetv3_heads_equal_the_tfjs_graph(run):
    x, outputs = forward("ctdet", run["image"], run["input_size"])
    check_input("ctdet", x, run)
    check_heads(outputs, run)


@pytest.mark.parametrize("run", runs("centernet"), ids=run_id)
def test_mobilenetv3_detections_equal_the_graph_detections(run):
    _, outputs = forward("ctdet", run["image"], run["input_size"])
    dets = ctdet_decode(outputs["hm"], outputs["wh"], k=100, box_mode="ltrb")
    graph = np.array(run["decoded"])                   # x1, y1, x2, y2 (input px), score, class
    assert len(dets) == 100
    np.testing.assert_array_equal(dets.labels.numpy(), graph[:, 5].astype(int))
    np.testing.assert_allclose(dets.scores.numpy(), graph[:, 4], rtol=0, atol=1e-5)
    np.testing.assert_allclose(dets.boxes.numpy() * 4, graph[:, :4], rtol=0, atol=1e-2)


# --- movenet against its heads and Identity ------------------------------------------------------------

@pytest.mark.parametrize("run", runs("movenet"), ids=run_id)
def test_movenet_heads_equal_the_tfjs_graph(run):
    x, outputs = forward("multi_pose", run["image"], run["input_size"])
    check_input("multi_pose", x, run)
    check_heads(outputs, run)


def graph_people(run: dict) -> dict:
    """MoveNet's Identity (1, 6, 56) in output cells, (x, y) order, sorted as our decode sorts."""
    out = np.array(run["decoded"])                      # 17 x (y, x, score), ymin, xmin, ymax, xmax, score
    cells = run["input_size"] / 4
    joints = out[:, :51].reshape(-1, 17, 3)
    order = np.argsort(-out[:, 55], kind="stable")
    return {"keypoints": (joints[..., [1, 0]] * cells)[order], "keypoint_scores": joints[..., 2][order],
            "boxes": (out[:, [52, 51, 54, 53]] * cells)[order], "scores": out[order, 55]}


@pytest.mark.parametrize("run", runs("movenet"), ids=run_id)
def test_movenet_decode_equals_the_graph_output(run):
    _, outputs = forward("multi_pose", run["image"], run["input_size"])
    dets = movenet_decode(*(outputs[n] for n in MOVENET_HEADS), k=6).numpy()
    ref = graph_people(run)
    assert len(dets["scores"]) == 6 and (dets["labels"] == 0).all()
    np.testing.assert_allclose(dets["scores"], ref["scores"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(dets["boxes"], ref["boxes"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(dets["keypoint_scores"], ref["keypoint_scores"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(dets["keypoints"], ref["keypoints"], rtol=0, atol=1e-3)

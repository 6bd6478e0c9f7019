"""Our outputs against numbers recorded by running the original CenterNet on CPU.

tests/data/official/<task>_<arch>/<image>[_tag].json were written by ../shared/reference/harness/run.py
with the same seeded weights: the head probes (raw outputs at fixed indices) and every detection.
"""
import functools
import json

import cv2
import numpy as np
import pytest
import torch

from centernet.inference.detector import Detector
from centernet.geometry.transforms import preprocess
from tests.conftest import OFFICIAL_REF, SHARED, need

HEAD_TOL = 1e-4
BOX_TOL = 0.05
SCORE_TOL = 1e-4


def reference(task, arch, name):
    return json.loads((OFFICIAL_REF / f"{task}_{arch}" / f"{name}.json").read_text())


def flat_rows(results: dict) -> np.ndarray:
    """Original per-class results -> rows (class index 0-based, x1, y1, x2, y2, score)."""
    rows = [[int(c) - 1] + r[:5] for c, rs in results.items() for r in rs]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


def our_rows(dets) -> np.ndarray:
    d = dets.numpy()
    return np.concatenate([d["labels"][:, None], d["boxes"], d["scores"][:, None]], 1).astype(np.float64)


def assert_same_detections(ours: np.ndarray, ref: np.ndarray):
    assert len(ours) == len(ref), f"{len(ours)} detections, the original has {len(ref)}"
    unmatched = list(range(len(ours)))
    for row in ref:
        cands = [j for j in unmatched if ours[j, 0] == row[0] and abs(ours[j, 5] - row[5]) <= SCORE_TOL
                 and np.abs(ours[j, 1:5] - row[1:5]).max() <= BOX_TOL]
        assert cands, f"no match for the original's detection {row.tolist()}"
        unmatched.remove(min(cands, key=lambda j: np.abs(ours[j, 1:6] - row[1:6]).sum()))


def assert_heads_match(outputs: dict, ref_heads: dict):
    for name, ref in ref_heads.items():
        got = outputs[name]
        assert list(got.shape) == ref["shape"], name
        flat = got.flatten()
        probe = flat[torch.tensor(ref["probe_index"])].numpy()
        assert np.abs(probe - np.asarray(ref["probe_value"])).max() <= HEAD_TOL, name
        assert abs(float(got.double().mean()) - ref["mean"]) <= HEAD_TOL, name
        assert abs(float(got.abs().max()) - ref["absmax"]) <= HEAD_TOL * max(1.0, ref["absmax"]), name


@functools.lru_cache(maxsize=2)  # the cases of one arch run back to back: load and prepare it once
def seeded_detector(path, **options):
    return Detector.from_checkpoint(path, device="cpu", **options)


CASES = [("ctdet", arch, img) for arch in ("res_18", "resdcn_18", "dla_34") for img in ("bus", "zidane", "coco139")]


@pytest.mark.parametrize("task,arch,name", CASES)
def test_heads_and_detections_equal_the_original(seeded_checkpoint, task, arch, name):
    ref = reference(task, arch, name)
    image = cv2.imread(str(need(SHARED / ref["image"])))
    det = seeded_detector(seeded_checkpoint(task, arch))
    x, tf = preprocess(image, det.spec)
    assert np.array_equal(tf.matrix, np.asarray(ref["trans_input"]))
    with torch.inference_mode():
        outputs = det.model(x)
    assert_heads_match(outputs, ref["heads_scale_1"])
    assert_same_detections(our_rows(det(image)), flat_rows(ref["results"]))


def test_keep_res_equals_the_original(seeded_checkpoint):
    ref = reference("ctdet", "res_18", "bus_keepres")
    image = cv2.imread(str(need(SHARED / ref["image"])))
    det = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", keep_res=True)
    x, tf = preprocess(image, det.spec)
    assert list(x.shape) == ref["input_shape"]
    assert_same_detections(our_rows(det(image)), flat_rows(ref["results"]))

"""centernet/evaluate.py: COCO AP through pycocotools, KITTI AP/AOS as the devkit, a Detector end to end."""
import dataclasses
import json
import math

import numpy as np
import pytest

from centernet.data.kitti import load_kitti
from centernet.evaluation.metrics import (BOX_STATS, coco_box_ap, coco_keypoint_ap, format_coco_table, format_kitti_table,
                                kitti_eval)
from centernet.io.writers.kitti import KittiObject
from tests.conftest import DATA, need

COCO_MINI = DATA / "coco_mini"


def gt_rows(gt: dict, keypoints: bool = False) -> list[dict]:
    rows = []
    for a in gt["annotations"]:
        if a.get("iscrowd") or (keypoints and not a.get("num_keypoints")):
            continue
        row = {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        if keypoints:
            row["keypoints"] = a["keypoints"]
        rows.append(row)
    return rows


def test_ground_truth_fed_back_as_detections_gives_box_ap_one():
    ann = need(COCO_MINI / "annotations" / "instances_val2017.json")
    metrics = coco_box_ap(ann, gt_rows(json.loads(ann.read_text())))
    assert set(metrics) == set(BOX_STATS)
    for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"):
        assert metrics[name] == pytest.approx(1.0), name
    table = format_coco_table(metrics)
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000" in table
    assert len(table.splitlines()) == 12


def test_ground_truth_keypoints_give_keypoint_ap_one():
    ann = need(COCO_MINI / "annotations" / "person_keypoints_val2017.json")
    metrics = coco_keypoint_ap(ann, gt_rows(json.loads(ann.read_text()), keypoints=True))
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert "maxDets= 20" in format_coco_table(metrics, "keypoints")


def test_empty_result_gives_zero_without_crashing():
    ann = need(COCO_MINI / "annotations" / "instances_val2017.json")
    assert all(v == 0.0 for v in coco_box_ap(ann, []).values())
    assert all(v == 0.0 for v in coco_keypoint_ap(ann, []).values())
    assert coco_box_ap(json.loads(ann.read_text()), [], image_ids=[139])["AP"] == 0.0


def test_box_ap_accepts_a_dict_a_coco_object_and_a_subset_of_images():
    from pycocotools.coco import COCO
    gt = {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
          "annotations": [{"image_id": 1, "category_id": 7, "bbox": [10, 10, 40, 40]},
                          {"image_id": 2, "category_id": 7, "bbox": [50, 50, 30, 30]}],
          "categories": [{"id": 7, "name": "thing"}]}  # a custom file without area / iscrowd / ids
    rows = [{"image_id": 1, "category_id": 7, "bbox": [10, 10, 40, 40], "score": 0.9}]
    assert coco_box_ap(gt, rows)["AP"] == pytest.approx(0.5, abs=0.01)  # one of two objects found
    assert coco_box_ap(gt, rows, image_ids=[1])["AP"] == pytest.approx(1.0)
    api = COCO()
    anns = [dict(a, id=i + 1, area=1600.0, iscrowd=0) for i, a in enumerate(gt["annotations"])]
    api.dataset = {**gt, "annotations": anns}
    api.createIndex()
    shifted = [{**rows[0], "bbox": [14, 10, 40, 40]}]  # 10 % of the width: IoU 36/44
    assert coco_box_ap(api, shifted, image_ids=[1])["AP"] < 1.0


def test_result_image_ids_unknown_to_the_ground_truth_are_an_error():
    from centernet.errors import InputError
    gt = {"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    with pytest.raises(InputError, match="not in the ground truth"):
        coco_box_ap(gt, [{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])


def _kitti_set(n=200, seed=0):
    """n images each with a Car, a Pedestrian and a DontCare region; heights span the difficulties.

    The devkit samples precision at one score threshold per 1/40 of recall reached, so a perfect
    result scores 100 only with at least 40 objects per difficulty (fewer give k/40).
    """
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        x, y = rng.uniform(0, 900), rng.uniform(100, 200)
        h = rng.uniform(30, 120)
        objs = [KittiObject("Car", 0.0, int(rng.integers(0, 3)), float(rng.uniform(-3, 3)), (x, y, x + 1.6 * h, y + h),
                            (1.5, 1.6, 3.9), (0, 1, 20), 0.0),
                KittiObject("Pedestrian", 0.0, 0, float(rng.uniform(-3, 3)), (x + 300, y, x + 330, y + h * 1.2),
                            (1.7, 0.6, 0.8), (2, 1, 20), 0.0),
                KittiObject("DontCare", -1, -1, -10, (0, 0, 40, 40), (-1, -1, -1), (-1000, -1000, -1000), -10)]
        images.append(objs)
    return images


def test_kitti_ground_truth_as_detections_gives_ap_and_aos_100():
    gts = _kitti_set()
    dets = [[dataclasses.replace(o, score=float(0.5 + 0.5 * np.random.default_rng(i).random()))
             for o in objs if o.type != "DontCare"] for i, objs in enumerate(gts)]
    m = kitti_eval(gts, dets)
    for cls in ("Car", "Pedestrian"):
        for level in ("easy", "moderate", "hard"):
            assert m[cls]["AP2D_R40"][level] == pytest.approx(100.0), (cls, level)
            assert m[cls]["AOS_R40"][level] == pytest.approx(100.0), (cls, level)
            assert m[cls]["AP2D_R11"][level] == pytest.approx(100.0)
    assert m["Car"]["num_gt"]["easy"] < m["Car"]["num_gt"]["hard"]  # occluded / small cars are harder only
    assert "AOS_R40" in format_kitti_table(m)


def test_kitti_wrong_orientation_lowers_aos_not_ap_empty_gives_zero_and_unscored_is_refused():
    gts = _kitti_set()
    flipped = [[dataclasses.replace(o, alpha=o.alpha + math.pi, score=1.0) for o in objs if o.type != "DontCare"]
               for objs in gts]
    m = kitti_eval(gts, flipped)
    assert m["Car"]["AP2D_R40"]["moderate"] == pytest.approx(100.0)
    assert m["Car"]["AOS_R40"]["moderate"] == pytest.approx(0.0, abs=1e-6)
    empty = kitti_eval(gts, [[] for _ in gts])
    assert all(v == 0.0 for r in empty.values() for k in ("AP2D_R40", "AP2D_R11") for v in r[k].values())
    with pytest.raises(ValueError, match="detections need a score"):
        kitti_eval(gts, gts)  # ground truth has no scores


def test_kitti_detections_in_dont_care_regions_are_not_false_positives():
    gts = _kitti_set()
    dets = [[dataclasses.replace(o, score=1.0) for o in objs if o.type != "DontCare"] +
            [KittiObject("Car", -1, -1, 0.0, (1, 1, 39, 39.5), (1, 1, 1), (0, 0, 0), 0, 0.99)] for objs in gts]
    # the false boxes sit in the DontCare region (and are under 40 px: easy ignores them anyway)
    assert kitti_eval(gts, dets)["Car"]["AP2D_R40"]["hard"] == pytest.approx(100.0)


def test_kitti_label_files_load_with_classes_ignores_and_calib():
    root = need(DATA / "kitti" / "training")
    data = load_kitti(root.parent)
    assert len(data) == 3 and data.task == "ddd"
    s = data.samples[0]
    assert s.calib.shape == (3, 4) and s.calib[0, 0] == pytest.approx(707.0493)
    assert len(s.boxes) == len(s.labels) == len(s.alpha) == len(s.depth) == len(s.dims)
    all_types = [o.type for smp in data.samples for o in smp.meta["kitti"]]
    assert "DontCare" in all_types
    n_ignored = sum(len(smp.ignore_boxes) for smp in data.samples)
    assert n_ignored == sum(t in ("DontCare", "Van", "Truck", "Person_sitting") for t in all_types)
    assert data.samples[1].depth.tolist() == pytest.approx(
        [o.location[2] for o in data.samples[1].meta["kitti"] if o.type in ("Car", "Pedestrian", "Cyclist")])

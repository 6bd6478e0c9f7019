"""`detect --task multi_pose | ddd`, --flip, --scales and --calib, in-process on real images.

Small res_18 models with biases set so that people / cars score above the thresholds keep these fast.
"""
import json
import math

import cv2
import numpy as np
import pytest
import torch

from centernet.geometry.cameras import load_camera
from app.cli.main import main
from centernet.geometry.boxes3d import project_points
from centernet.models.build import build_model
from centernet.io.writers.kitti import read_kitti_labels
from tests.conftest import DATA, need


def small_checkpoint(tmp_path, task) -> str:
    torch.manual_seed(0)
    sd = build_model("res_18", task).state_dict()
    sd["hm.2.bias"] += 2.5  # scores around 0.6
    sd["wh.2.bias"][:] = torch.tensor([10.0, 6.0])
    if task == "ddd":
        sd["dep.2.bias"][:] = math.log((1 / 21) / (1 - 1 / 21))  # depth about 20 m
        sd["dim.2.bias"][:] = torch.tensor([1.5, 1.6, 3.9])
    path = tmp_path / f"{task}_res_18.pth"
    torch.save({"epoch": 1, "state_dict": sd}, path)
    return str(path)


def test_multi_pose_writes_coco_keypoint_results_with_flip_and_scales(tmp_path):
    from pycocotools.coco import COCO
    image = need(DATA / "images" / "zidane.jpg")
    js, out = tmp_path / "kp.json", tmp_path / "out"
    code = main(["detect", "--weights", small_checkpoint(tmp_path, "multi_pose"), str(image), "--json", str(js),
                 "--out", str(out), "--flip", "--scales", "1,0.75", "--input-size", "256", "--quiet"])
    assert code == 0
    rows = json.loads(js.read_text())
    assert rows and all(r["category_id"] == 1 and len(r["keypoints"]) == 51 for r in rows)
    kps = np.array([r["keypoints"] for r in rows]).reshape(-1, 17, 3)
    assert np.all((kps[..., 2] >= 0) & (kps[..., 2] <= 1))
    h, w = cv2.imread(str(image)).shape[:2]
    gt = COCO()
    gt.dataset = {"images": [{"id": 0, "width": w, "height": h}], "annotations": [],
                  "categories": [{"id": 1, "name": "person", "keypoints": [str(j) for j in range(17)], "skeleton": []}]}
    gt.createIndex()
    assert len(gt.loadRes(str(js)).getAnnIds()) == len(rows)
    assert (out / "zidane.jpg").is_file()


def test_ddd_writes_kitti_labels_and_3d_json_with_the_given_camera(tmp_path):
    image, calib = need(DATA / "kitti" / "000008.png"), need(DATA / "kitti" / "000008.txt")
    js, labels, out = tmp_path / "ddd.json", tmp_path / "labels", tmp_path / "out"
    code = main(["detect", "--weights", small_checkpoint(tmp_path, "ddd"), str(image), "--calib", str(calib),
                 "--json", str(js), "--kitti", str(labels), "--out", str(out), "--input-size", "192x640", "--quiet"])
    assert code == 0
    rows = json.loads(js.read_text())
    objects = read_kitti_labels(labels / "000008.txt")
    assert rows and len(objects) == len(rows) and all(r["score"] > 0.2 for r in rows)
    assert {o.type for o in objects} <= {"Car", "Pedestrian", "Cyclist"}
    camera = load_camera(calib)
    for r, o in zip(rows, objects):
        assert set(r) >= {"alpha", "dim", "depth", "location", "rotation_y"}
        assert np.allclose(o.location, r["location"], atol=0.006)
        assert math.isclose(o.rotation_y, r["rotation_y"], abs_tol=0.006)
        # the 3D centre projects onto the 2D box centre with this camera (not the default one)
        centre = np.array(r["location"]) - [0, r["dim"][0] / 2, 0]
        x, y, bw, bh = r["bbox"]
        assert np.allclose(project_points(centre, camera)[0], [x + bw / 2, y + bh / 2], atol=0.05)
    assert (out / "000008.png").is_file()


def test_ddd_calib_folder_gives_each_image_its_own_camera_and_labels_default_beside_out(tmp_path):
    kitti = need(DATA / "kitti" / "training")
    out = tmp_path / "out"
    code = main(["detect", "--weights", small_checkpoint(tmp_path, "ddd"), str(kitti / "image_2"),
                 "--calib", str(kitti / "calib"), "--out", str(out), "--input-size", "128x384", "--quiet"])
    assert code == 0
    assert sorted(p.name for p in (out / "kitti").glob("*.txt")) == ["000000.txt", "000001.txt", "000002.txt"]


@pytest.mark.parametrize("args", [["--scales", "0,1"], ["--scales", "a,b"]])
def test_bad_tta_options_are_refused_by_the_parser(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(["detect", "x.jpg", *args])
    assert e.value.code == 2 and "bad scales" in capsys.readouterr().err


def test_missing_camera_file_is_one_line_error(tmp_path, capsys):
    image = need(DATA / "kitti" / "000008.png")
    code = main(["detect", "--weights", small_checkpoint(tmp_path, "ddd"), str(image), "--calib",
                 str(tmp_path / "nope.txt"), "--quiet"])
    assert code == 2 and "camera file not found" in capsys.readouterr().err

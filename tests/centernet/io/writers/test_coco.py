"""COCO-style annotation files: pycocotools loads them; fields for tracks, poses and 3D are there."""
import json

import pytest

from centernet.classes import COCO_CATEGORY_IDS, COCO_JOINTS, COCO_PERSON, COCO_SKELETON, KITTI_CLASSES
from centernet.io.writers.coco import result_rows, write_coco_annotations
from tests.centernet.io.writers.conftest import make_record


def test_video_annotations_load_with_pycocotools_with_real_category_ids(tmp_path, records, class_names):
    from pycocotools.coco import COCO
    path = tmp_path / "a.json"
    n = write_coco_annotations(path, lambda: iter(records), class_names, {"source": "v.mp4"}, tracking=True,
                               video_name="v.mp4")
    coco = COCO(str(path))
    assert n == len(coco.getAnnIds()) == sum(len(r.dets) for r in records)
    assert sorted(coco.getImgIds()) == [r.image_id for r in records]
    img = coco.loadImgs(records[1].image_id)[0]
    assert img["frame_index"] == 1 and img["timestamp_ms"] == round(records[1].time_ms, 3)
    assert (img["width"], img["height"], img["video"]) == (640, 480, "v.mp4")
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[records[0].image_id]))
    assert [a["score"] for a in anns] == [r["score"] for r in result_rows(records[0].dets, 1, class_names)]
    assert {a["category_id"] for a in json.loads(path.read_text())["annotations"]} <= set(COCO_CATEGORY_IDS)
    assert [a["track_id"] for a in anns] == records[0].dets.track_ids.tolist()
    assert len({a["id"] for a in coco.dataset["annotations"]}) == n  # unique annotation ids


def test_boxes_are_xywh_of_the_xyxy_detections(tmp_path, records, class_names):
    path = tmp_path / "a.json"
    write_coco_annotations(path, lambda: iter(records), class_names, {})
    ann = json.loads(path.read_text())["annotations"][0]
    x1, y1, x2, y2 = records[0].dets.boxes[0].tolist()
    assert ann["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=1e-3)
    assert ann["area"] == pytest.approx((x2 - x1) * (y2 - y1), rel=1e-4)
    assert "track_id" not in ann


def test_pose_annotations_carry_keypoints_and_the_skeleton(tmp_path):
    from pycocotools.coco import COCO
    recs = [make_record(i, joints=17) for i in range(2)]
    for r in recs:
        r.dets.labels[:] = 0
    path = tmp_path / "p.json"
    write_coco_annotations(path, lambda: iter(recs), COCO_PERSON, {}, keypoint_names=COCO_JOINTS,
                           skeleton=COCO_SKELETON)
    coco = COCO(str(path))
    cat = coco.loadCats(1)[0]
    assert cat["keypoints"] == list(COCO_JOINTS) and [15 + 1, 13 + 1] in cat["skeleton"]
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert len(ann["keypoints"]) == 17 * 3 and ann["num_keypoints"] == 17


def test_3d_annotations_carry_depth_dimensions_location_and_rotation(tmp_path):
    recs = [make_record(0, ddd=True)]
    recs[0].dets.labels[:] = 1
    path = tmp_path / "k.json"
    write_coco_annotations(path, lambda: iter(recs), KITTI_CLASSES, {})
    doc = json.loads(path.read_text())
    ann = doc["annotations"][0]
    assert {"depth", "dim", "alpha", "location", "rotation_y"} <= set(ann)
    assert ann["location"] == pytest.approx(recs[0].dets.location[0].tolist(), abs=1e-4)
    assert [c["id"] for c in doc["categories"]] == [1, 2, 3] and ann["category_id"] == 2


def test_write_is_atomic_a_failure_leaves_the_old_file(tmp_path, records, class_names):
    path = tmp_path / "a.json"
    path.write_text("old")

    def broken():
        yield records[0]
        raise RuntimeError("disk on fire")
    with pytest.raises(RuntimeError):
        write_coco_annotations(path, broken, class_names, {})
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]

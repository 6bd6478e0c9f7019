"""CSV exports round-trip: what csv.DictReader reads back equals the detections."""
import csv

import pytest

from centernet.classes import COCO_CATEGORY_IDS, COCO_JOINTS, COCO_PERSON, KITTI_CLASSES
from centernet.io.writers.csv import BASE_COLUMNS, DDD_COLUMNS, read_csv, write_csv
from tests.centernet.io.writers.conftest import make_record


def test_csv_round_trips_boxes_scores_classes_and_tracks(tmp_path, records, class_names):
    path = tmp_path / "d.csv"
    n = write_csv(path, records, class_names, tracking=True)
    with open(path, newline="") as f:
        assert next(csv.reader(f)) == list(BASE_COLUMNS)
    rows = read_csv(path)
    flat = [(r, i) for r in records for i in range(len(r.dets))]
    assert n == len(rows) == len(flat)
    for row, (r, i) in zip(rows, flat):
        label = int(r.dets.labels[i])
        assert (row["frame"], row["track_id"], row["class_id"], row["class_name"]) == \
               (r.index, int(r.dets.track_ids[i]), COCO_CATEGORY_IDS[label], class_names[label])
        assert row["time_ms"] == pytest.approx(r.time_ms, abs=1e-3)
        assert row["score"] == pytest.approx(float(r.dets.scores[i]), abs=1e-6)
        assert [row[c] for c in ("x1", "y1", "x2", "y2")] == pytest.approx(r.dets.boxes[i].tolist(), abs=1e-3)


def test_untracked_csv_leaves_track_id_empty(tmp_path, records, class_names):
    path = tmp_path / "d.csv"
    write_csv(path, records, class_names, tracking=False)
    assert {row["track_id"] for row in read_csv(path)} == {None}


def test_pose_and_3d_columns_follow_the_box(tmp_path):
    pose = [make_record(0, joints=17)]
    pose[0].dets.labels[:] = 0
    write_csv(tmp_path / "p.csv", pose, COCO_PERSON, keypoint_names=COCO_JOINTS)
    row = read_csv(tmp_path / "p.csv")[0]
    assert list(row)[10:13] == ["nose_x", "nose_y", "nose_score"] and len(row) == 10 + 17 * 3
    assert (row["left_ankle_x"], row["left_ankle_y"]) == pytest.approx(pose[0].dets.keypoints[0, 15].tolist(), abs=1e-3)
    box3d = [make_record(0, ddd=True)]
    box3d[0].dets.labels[:] = 0
    write_csv(tmp_path / "k.csv", box3d, KITTI_CLASSES, ddd=True)
    row = read_csv(tmp_path / "k.csv")[0]
    assert list(row)[10:] == list(DDD_COLUMNS)
    assert [row["loc_x"], row["loc_y"], row["loc_z"]] == pytest.approx(box3d[0].dets.location[0].tolist(), abs=1e-4)

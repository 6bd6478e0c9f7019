"""Saved detections read back per frame: MOTChallenge .txt, COCO results .json, annotate .csv; clear errors."""
import json

import pytest

from centernet.errors import InputError
from centernet.io.detection_files import read_detection_file


def test_mot_detections_fill_empty_frames_and_sort_by_score(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("1,-1,10,20,30,40,0.4,-1,-1,-1\n1,-1,100,20,30,40,0.9,-1,-1,-1\n\n3,-1,5,6,7,8,0.7\n")
    frames = read_detection_file(path)
    assert [f for f, _ in frames] == [1, 2, 3]
    first, empty, third = (d for _, d in frames)
    assert first.scores.tolist() == pytest.approx([0.9, 0.4])
    assert first.boxes.tolist() == [[100, 20, 130, 60], [10, 20, 40, 60]]
    assert len(empty) == 0 and third.boxes.tolist() == [[5, 6, 12, 14]] and third.labels.tolist() == [0]


def test_coco_results_and_csv_give_the_same_frames(tmp_path):
    coco = tmp_path / "r.json"
    coco.write_text(json.dumps([{"image_id": 2, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    csv = tmp_path / "r.csv"
    csv.write_text("frame,time_ms,track_id,class_id,class_name,score,x1,y1,x2,y2\n1,40,,3,car,0.5,1,2,4,6\n")
    for path in (coco, csv):
        frames = read_detection_file(path)
        assert [f for f, _ in frames] == [1, 2] and len(frames[0][1]) == 0
        d = frames[1][1]
        assert d.boxes.tolist() == [[1, 2, 4, 6]] and d.labels.tolist() == [3]


@pytest.mark.parametrize("name, text, message", [
    ("d.txt", "1,-1,10,20,30\n", "d.txt:1: not a MOTChallenge detection row"),
    ("d.txt", "0,-1,10,20,30,40,0.5\n", "frame>=1"),
    ("d.json", "{}", "not a COCO results list"),
    ("d.xml", "", "unknown detections format"),
])
def test_bad_files_name_the_problem(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_detection_file(path)

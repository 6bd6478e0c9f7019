"""centernet/writers/kitti.py: the one KITTI label record, its reader and writer."""
import re
import shutil

import pytest
import torch

from centernet.classes import KITTI_CLASSES
from centernet.detections import Detections
from centernet.errors import InputError
from centernet.io.writers.kitti import KittiObject, kitti_objects, read_kitti_labels, write_kitti_labels
from tests.conftest import DATA, need

KITTI = DATA / "kitti" / "training"


def ddd_detections() -> Detections:
    dets = Detections(boxes=torch.tensor([[10.0, 20.0, 110.5, 80.25], [300.0, 40.0, 330.0, 140.0]]),
                      scores=torch.tensor([0.875, 0.3]), labels=torch.tensor([1, 0]))
    dets.alpha = torch.tensor([-1.5, 0.25])
    dets.dims = torch.tensor([[1.5, 1.6, 3.9], [1.75, 0.6, 0.8]])
    dets.location = torch.tensor([[1.0, 1.5, 20.0], [-2.0, 1.25, 12.5]])
    dets.depth = dets.location[:, 2].clone()
    dets.rotation_y = torch.tensor([-1.45, 0.1])
    return dets


def test_detections_are_written_as_the_originals_result_lines_and_read_back(tmp_path):
    path = tmp_path / "000001.txt"
    write_kitti_labels(path, ddd_detections(), KITTI_CLASSES)
    assert path.read_text().splitlines() == [
        "Car 0.0 0 -1.50 10.00 20.00 110.50 80.25 1.50 1.60 3.90 1.00 1.50 20.00 -1.45 0.88",
        "Pedestrian 0.0 0 0.25 300.00 40.00 330.00 140.00 1.75 0.60 0.80 -2.00 1.25 12.50 0.10 0.30"]
    car, walker = read_kitti_labels(path)
    assert (car.type, car.score, car.box, car.dims) == ("Car", 0.88, (10.0, 20.0, 110.5, 80.25), (1.5, 1.6, 3.9))
    assert (walker.type, walker.location, walker.rotation_y) == ("Pedestrian", (-2.0, 1.25, 12.5), 0.1)


def test_no_detections_give_an_empty_file_and_2d_detections_the_devkits_blanks(tmp_path):
    path = tmp_path / "empty.txt"
    write_kitti_labels(path, Detections.empty(), KITTI_CLASSES)
    assert path.read_text() == "" and read_kitti_labels(path) == []
    flat = Detections(boxes=torch.tensor([[1.0, 2.0, 3.0, 4.0]]), scores=torch.tensor([0.5]), labels=torch.tensor([2]))
    (o,) = kitti_objects(flat, KITTI_CLASSES)
    assert o.line() == ("Cyclist 0.0 0 -10.00 1.00 2.00 3.00 4.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 "
                        "-10.00 0.50")


def test_ground_truth_lines_have_no_score_and_write_back_as_15_fields():
    objects = [o for label in sorted(need(KITTI / "label_2").glob("*.txt")) for o in read_kitti_labels(label)]
    assert len(objects) == 10 and all(o.score is None for o in objects)
    first = objects[0]
    assert (first.type, first.occluded, first.box) == ("Pedestrian", 0, (712.40, 143.00, 810.73, 307.92))
    for o in objects:
        line = o.line()
        assert len(line.split()) == 15 and KittiObject.parse(line) == o


@pytest.mark.parametrize("bad, problem", [
    ("Car 0.00 0 -1.5 10 20 110 80 1.5 1.6 3.9 1.0 1.5", "15 fields (16 with a score), got 13"),
    ("Car 0.00 0 -1.5 10 20 110 80 1.5 1.6 3.9 1.0 1.5 20.0 x", "must be numbers"),
    ("Car 0.00 0 -1.5 10 20 110 80 1.5 1.6 3.9 1.0 1.5 20.0 -1.4 0.9 7", "got 17"),
])
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path, bad, problem):
    path = tmp_path / "000003.txt"
    good = "Car 0.00 0 -1.5 10 20 110 80 1.5 1.6 3.9 1.0 1.5 20.0 -1.4"
    path.write_text(f"{good}\n\n{bad}\n{good}\n")
    with pytest.raises(InputError) as e:
        read_kitti_labels(path)
    message = str(e.value)
    assert f"{path}:3" in message and problem in message and "\n" not in message


def test_the_dataset_loader_refuses_a_bad_label_file_instead_of_dropping_objects(tmp_path):
    from centernet.data.kitti import load_kitti
    root = tmp_path / "training"
    shutil.copytree(need(KITTI), root)
    label = root / "label_2" / "000001.txt"
    lines = label.read_text().splitlines()
    label.write_text("\n".join(lines[:-1] + [" ".join(lines[-1].split()[:10])]) + "\n")
    with pytest.raises(InputError, match=re.escape(f"{label}:{len(lines)}: a KITTI label line has 15 fields")):
        load_kitti(tmp_path)

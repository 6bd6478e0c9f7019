"""MOTChallenge files parsed in one place: ragged rows padded, ground truth's ignore rows dropped, bad rows named."""
import numpy as np
import pytest

from centernet.errors import InputError
from centernet.io.mot_files import read_mot, read_mot_detections, read_mot_tracks


def test_rows_of_any_width_read_as_ten_columns_and_gt_ignore_regions_are_dropped(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,10,20,30,40,1,1,1\n1,2,0,0,5,5,0,1,1\n\n2, 1, 11,20,30,40\n")
    rows = read_mot(gt)
    assert rows.shape == (3, 10) and np.isnan(rows[2, 6:]).all()
    assert read_mot_tracks(gt).tolist() == [[1, 1, 10, 20, 40, 60], [1, 2, 0, 0, 5, 5], [2, 1, 11, 20, 41, 60]]
    assert read_mot_tracks(gt, ground_truth=True)[:, 1].tolist() == [1, 1]   # conf 0 dropped, missing kept


def test_detections_take_the_eighth_column_as_class_when_positive(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,20,30,40,0.9,3,-1,-1\n2,-1,1,2,3,4,0.5,-1,-1,-1\n3,-1,1,2,3,4,0.25\n")
    assert read_mot_detections(det).tolist() == [[1, 10, 20, 40, 60, 0.9, 3], [2, 1, 2, 4, 6, 0.5, 0],
                                                 [3, 1, 2, 4, 6, 0.25, 0]]


@pytest.mark.parametrize("text, message", [("1,1,10,20,30\n", "t.txt:1: not a MOTChallenge row"),
                                           ("1,1,1,1,1,1\n0,1,10,20,30,40\n", "t.txt:2: .*frame>=1"),
                                           ("1,1,a,1,1,1\n", "t.txt:1:")])
def test_a_bad_row_is_named_with_its_line(tmp_path, text, message):
    (tmp_path / "t.txt").write_text(text)
    with pytest.raises(InputError, match=message):
        read_mot_tracks(tmp_path / "t.txt")


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such MOTChallenge file"):
        read_mot_tracks(tmp_path / "none.txt")

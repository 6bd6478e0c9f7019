"""MOT Challenge rows: frame,id,x,y,w,h,score,-1,-1,-1 with 1-based frames, born tracks only."""
import numpy as np
import pytest

from centernet.io.mot_files import read_mot
from centernet.io.writers.mot import write_mot


def test_mot_rows_are_one_based_tracked_xywh(tmp_path, records):
    path = tmp_path / "m.txt"
    n = write_mot(path, records)
    rows = read_mot(path)
    born = [(r, i) for r in records for i in range(len(r.dets)) if r.dets.track_ids[i] > 0]
    assert n == len(rows) == len(born)
    assert rows.shape[1] == 10 and (rows[:, 7:] == -1).all()
    r, i = born[0]
    x1, y1, x2, y2 = r.dets.boxes[i].tolist()
    assert rows[0, :2].tolist() == [r.index + 1, int(r.dets.track_ids[i])]
    assert rows[0, 2:6] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.01)
    assert rows[0, 6] == pytest.approx(float(r.dets.scores[i]), abs=1e-5)
    assert set(np.unique(rows[:, 0])) <= {r.index + 1 for r in records}


def test_mot_needs_track_ids(tmp_path, records):
    records[0].dets.track_ids = None
    with pytest.raises(ValueError, match="track ids"):
        write_mot(tmp_path / "m.txt", records)

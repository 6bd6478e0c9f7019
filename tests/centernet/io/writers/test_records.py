"""`FrameRecord` JSON round trips are exact: resumed exports equal uninterrupted ones."""
import json

import torch

from centernet.io.writers.records import FrameRecord
from tests.centernet.io.writers.conftest import make_record


def assert_same(a: FrameRecord, b: FrameRecord):
    assert (a.index, a.time_ms, a.width, a.height, a.image_id, a.file_name) == \
           (b.index, b.time_ms, b.width, b.height, b.image_id, b.file_name)
    da, db = a.dets.numpy(), b.dets.numpy()
    assert da.keys() == db.keys()
    for k in da:
        assert da[k].dtype == db[k].dtype and da[k].shape == db[k].shape, k
        assert (da[k] == db[k]).all(), k


def test_record_json_round_trip_is_bit_exact_for_every_task_field():
    for rec in (make_record(5, tracked=True), make_record(6, joints=17), make_record(7, ddd=True)):
        assert_same(rec, FrameRecord.from_json(json.loads(json.dumps(rec.to_json()))))


def test_empty_frames_keep_their_field_shapes():
    rec = make_record(1, n=0, joints=17, ddd=True)
    back = FrameRecord.from_json(json.loads(json.dumps(rec.to_json())))
    assert back.dets.boxes.shape == (0, 4) and back.dets.keypoints.shape == (0, 17, 2)
    assert back.dets.location.shape == (0, 3) and back.dets.labels.dtype == torch.int64

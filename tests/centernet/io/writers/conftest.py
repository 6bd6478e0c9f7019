"""Hand-made frame records for the writers' round trips."""
import pytest
import torch

from centernet.classes import COCO_CLASSES
from centernet.detections import Detections
from centernet.io.writers.records import FrameRecord


def make_record(index, n=3, tracked=False, joints=0, ddd=False, seed=0) -> FrameRecord:
    g = torch.Generator().manual_seed(seed + index)
    xy = torch.rand(n, 2, generator=g) * 500
    wh = torch.rand(n, 2, generator=g) * 80 + 5
    dets = Detections(boxes=torch.cat([xy, xy + wh], 1), scores=torch.rand(n, generator=g).sort(descending=True).values,
                      labels=torch.randint(0, 80, (n,), generator=g))
    if tracked:
        dets.track_ids = torch.tensor([i + 1 if i % 3 else -1 for i in range(n)], dtype=torch.long)
    if joints:
        dets.keypoints = torch.rand(n, joints, 2, generator=g) * 500
        dets.keypoint_scores = torch.rand(n, joints, generator=g)
    if ddd:
        dets.depth = torch.rand(n, generator=g) * 50
        dets.dims = torch.rand(n, 3, generator=g) * 4
        dets.alpha = torch.rand(n, generator=g) * 6 - 3
        dets.location = torch.rand(n, 3, generator=g) * 20
        dets.rotation_y = torch.rand(n, generator=g) * 6 - 3
    return FrameRecord(index=index, time_ms=index * 33.366, width=640, height=480, image_id=index + 1, dets=dets)


@pytest.fixture
def records():
    """Four frames of a tracked video, one of them empty."""
    out = [make_record(i, n=0 if i == 2 else 4, tracked=True) for i in range(4)]
    return out


@pytest.fixture
def class_names():
    return COCO_CLASSES

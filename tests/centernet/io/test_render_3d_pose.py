"""Pixel checks: the one renderer draws skeletons and cuboids where the detections are."""
import numpy as np
import torch

from centernet.geometry.cameras import DEFAULT_CAMERA
from centernet.classes import COCO_SKELETON, KITTI_CLASSES
from centernet.detections import Detections
from centernet.geometry.boxes3d import box3d_corners, project_points
from centernet.io.render import RenderOptions, draw_detections

NO_TEXT = RenderOptions(labels=False)
SKELETON_ONLY = RenderOptions(labels=False, boxes=False)


def lit(img, x, y, r=1) -> bool:
    return bool(img[int(round(y)) - r:int(round(y)) + r + 1, int(round(x)) - r:int(round(x)) + r + 1].any())


def test_skeleton_is_drawn_on_the_joints_and_along_the_edges_only():
    joints = np.array([[200 + 12 * (j % 5), 60 + 25 * (j // 5)] for j in range(17)], np.float32)
    dets = Detections(torch.tensor([[180.0, 40.0, 270.0, 160.0]]), torch.tensor([0.9]), torch.tensor([0]),
                      keypoints=torch.from_numpy(joints)[None], keypoint_scores=torch.ones(1, 17))
    img = draw_detections(np.zeros((240, 400, 3), np.uint8), dets, ("person",), SKELETON_ONLY)
    for x, y in joints:
        assert lit(img, x, y, 0), (x, y)
    for a, b in COCO_SKELETON:
        mid = (joints[a] + joints[b]) / 2
        assert lit(img, *mid), (a, b)
    assert not img[:, :150].any() and not img[:, 300:].any()  # nothing away from the person
    # a joint scoring below the threshold is not drawn
    dets.keypoint_scores[0, 16] = 0.0
    img = draw_detections(np.zeros((240, 400, 3), np.uint8), dets, ("person",), SKELETON_ONLY)
    far = joints[16] + [0, 8]
    assert not lit(img, *far, 0)


def test_cuboid_is_drawn_on_the_projected_corners_of_the_3d_box():
    dims, loc, rot_y = np.array([1.5, 1.6, 3.9]), np.array([2.0, 1.6, 12.0]), 0.5
    corners = project_points(box3d_corners(dims, loc, rot_y), DEFAULT_CAMERA)
    x1, y1 = corners.min(0)
    x2, y2 = corners.max(0)
    dets = Detections(torch.tensor([[x1, y1, x2, y2]], dtype=torch.float32), torch.tensor([0.8]), torch.tensor([0]),
                      depth=torch.tensor([12.0]), dims=torch.tensor(dims[None], dtype=torch.float32),
                      alpha=torch.tensor([0.0]), location=torch.tensor(loc[None], dtype=torch.float32),
                      rotation_y=torch.tensor([rot_y]))
    img = draw_detections(np.zeros((375, 1242, 3), np.uint8), dets, KITTI_CLASSES, NO_TEXT, camera=DEFAULT_CAMERA)
    for x, y in corners:
        assert lit(img, x, y), (x, y)
    for a, b in ((0, 1), (4, 5), (0, 4), (0, 2)):  # edges and the front face's cross
        assert lit(img, *((corners[a] + corners[b]) / 2)), (a, b)
    assert not lit(img, *((corners[4] + corners[6]) / 2))  # the back face has no cross
    ys, xs = np.nonzero(img.any(axis=2))
    assert xs.min() >= x1 - 3 and xs.max() <= x2 + 3 and ys.min() >= y1 - 3 and ys.max() <= y2 + 3
    # without a camera the 2D box is drawn instead
    plain = draw_detections(np.zeros((375, 1242, 3), np.uint8), dets, KITTI_CLASSES, NO_TEXT)
    assert lit(plain, x1, (y1 + y2) / 2) and not lit(plain, *((corners[0] + corners[2]) / 2))


def test_birds_eye_inset_shows_the_box_from_above():
    dets = Detections(torch.tensor([[500.0, 150.0, 600.0, 220.0]]), torch.tensor([0.8]), torch.tensor([0]),
                      depth=torch.tensor([30.0]), dims=torch.tensor([[1.5, 1.6, 3.9]]), alpha=torch.tensor([0.0]),
                      location=torch.tensor([[0.0, 1.6, 30.0]]), rotation_y=torch.tensor([0.0]))
    img = draw_detections(np.zeros((375, 1242, 3), np.uint8), dets, KITTI_CLASSES,
                          RenderOptions(labels=False, birds_eye=True), camera=DEFAULT_CAMERA)
    size = int(375 * 0.3)
    inset = img[:size, 1242 - size:]
    # the car (x 0, z 30 of 60 m) sits in the middle of the inset, in its class colour
    cx, cz = size // 2, size // 2
    patch = inset[cz - 4:cz + 5, cx - 12:cx + 13].reshape(-1, 3)
    assert any(p.max() > 100 and p.min() < 100 for p in patch)

import math

import numpy as np
import pytest
import torch

from centernet.geometry.cameras import DEFAULT_CAMERA, load_camera
from centernet.detections import Detections
from centernet.inference.detector import ddd_to_image, preprocess_ddd
from centernet.geometry.boxes3d import (alpha_to_rot_y, box3d_corners, box3d_to_2d, project_points, rot_y_to_alpha,
                                  unproject)
from centernet.geometry.transforms import PreprocessSpec, KITTI_MEAN, KITTI_STD
from centernet.io.writers.kitti import read_kitti_labels
from tests.conftest import DATA, need

KITTI = DATA / "kitti" / "training"
RIGID = ("Car", "Van", "Truck", "Tram", "Cyclist")


def kitti_objects():
    """(image id, object, camera) for every labelled object of the shared KITTI samples."""
    out = []
    for label in sorted(need(KITTI / "label_2").glob("*.txt")):
        camera = load_camera(KITTI / "calib" / label.name)
        out += [(label.stem, o, camera) for o in read_kitti_labels(label) if o.type != "DontCare"]
    return out


def test_projected_3d_boxes_of_kitti_labels_land_on_their_2d_boxes():
    """Measured on the 6 labelled objects of 000000-000002 (none truncated), max corner error:
    Car 0.25 / 0.33 px, Cyclist 0.26, Truck 0.94 px; Misc 2.05 px; Pedestrian 9.56 px (x2: the annotated
    2D box follows the walker's spread limbs, which the 1.2 m-long 3D box does not enclose)."""
    errors = {}
    for image_id, o, camera in kitti_objects():
        if o.truncated > 0:
            continue
        err = np.abs(box3d_to_2d(o.dims, o.location, o.rotation_y, camera) - np.asarray(o.box))
        errors[(image_id, o.type)] = float(err.max())
    rigid = {k: v for k, v in errors.items() if k[1] in RIGID}
    assert len(rigid) == 4 and max(rigid.values()) <= 2.0, rigid
    # every object, articulated ones included, still overlaps its box closely
    assert max(errors.values()) <= 10.0, errors


def test_corners_front_face_first_and_heading_along_rot_y():
    h, w, l = 1.5, 1.6, 4.0
    loc = np.array([1.0, 2.0, 10.0])
    for rot_y in (0.0, 0.7, -2.0):
        c = box3d_corners((h, w, l), loc, rot_y)
        heading = np.array([math.cos(rot_y), 0.0, -math.sin(rot_y)])
        front, back = c[:4].mean(0), c[4:].mean(0)
        assert np.allclose(front - back, l * heading)
        assert np.allclose(c[[0, 1, 4, 5], 1], loc[1]) and np.allclose(c[[2, 3, 6, 7], 1], loc[1] - h)  # y down
        assert np.allclose(np.linalg.norm(c[0] - c[1]), w) and np.allclose(np.linalg.norm(c[0] - c[4]), l)
        assert np.allclose(c.mean(0), loc - [0, h / 2, 0])


def test_unproject_then_project_is_identity_and_alpha_rot_y_round_trip():
    uv = np.array([[100.0, 50.0], [640.0, 200.0], [1100.0, 300.0]], np.float32)
    depth = np.array([5.0, 20.0, 60.0], np.float32)
    pts = unproject(uv, depth, DEFAULT_CAMERA)
    assert np.allclose(project_points(pts, DEFAULT_CAMERA), uv, atol=1e-3)
    alpha = np.array([0.3, -3.0, 3.1], np.float32)
    rot_y = alpha_to_rot_y(alpha, uv[:, 0], DEFAULT_CAMERA)
    assert np.all(np.abs(rot_y) <= math.pi)
    assert np.allclose(np.cos(rot_y_to_alpha(rot_y, uv[:, 0], DEFAULT_CAMERA) - alpha), 1.0, atol=1e-6)


def test_ddd_post_processing_places_the_car_and_keeps_the_originals_2d_box_quirk():
    """A 1242x375 KITTI frame: map -> image scale 1242/320, translation (0, 1.2) px; that translation
    is added to the box size too (the original sends (w, h) through the affine as a point)."""
    spec = PreprocessSpec(input_size=(384, 1280), mean=KITTI_MEAN, std=KITTI_STD)
    _, tf = preprocess_ddd(np.zeros((375, 1242, 3), np.uint8), spec)
    scale = 1242 / 320
    cx, cy, bw, bh = 40.25, 20.5, 8.0, 5.0
    dets = Detections(torch.tensor([[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]] * 2),
                      torch.tensor([0.9, 0.19]), torch.tensor([0, 0]), depth=torch.tensor([20.0, 20.0]),
                      dims=torch.tensor([[1.5, 1.6, 3.9]] * 2), alpha=torch.tensor([0.3, 0.3]))
    out = ddd_to_image(dets, tf, DEFAULT_CAMERA)
    assert len(out) == 1  # only scores above 0.2 stay
    u, v = cx * scale, cy * scale + 1.2
    x1, y1, x2, y2 = out.boxes[0].tolist()
    assert math.isclose((x1 + x2) / 2, u, abs_tol=1e-3) and math.isclose((y1 + y2) / 2, v, abs_tol=1e-3)
    assert math.isclose(x2 - x1, bw * scale, abs_tol=1e-3)
    assert math.isclose(y2 - y1, bh * scale + 1.2, abs_tol=1e-3)  # the quirk: + h/2 - 0.15 w = 1.2 px
    centre_3d = out.location[0].numpy() - np.array([0, 1.5 / 2, 0])
    assert np.allclose(project_points(centre_3d, DEFAULT_CAMERA)[0], [u, v], atol=2e-3)
    assert math.isclose(float(out.location[0, 2]), 20.0 - float(DEFAULT_CAMERA[2, 3]), rel_tol=1e-6)
    want_rot_y = 0.3 + math.atan2(u - DEFAULT_CAMERA[0, 2], DEFAULT_CAMERA[0, 0])
    assert math.isclose(float(out.rotation_y[0]), want_rot_y, abs_tol=1e-5)


def test_kitti_calib_4x4_matrix_and_json_cameras_load(tmp_path):
    p2 = load_camera(need(KITTI / "calib" / "000000.txt"))
    assert p2.shape == (3, 4) and p2.dtype == np.float32
    assert np.allclose(p2, DEFAULT_CAMERA)  # the original's default is this split's P2
    m = load_camera(need(DATA / "kitti" / "000008.txt"))
    assert np.allclose(m, [[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791],
                           [0, 0, 1, 0.002745884]])
    (tmp_path / "k.json").write_text('{"fx": 700, "fy": 710, "cx": 600, "cy": 180}')
    assert np.allclose(load_camera(tmp_path / "k.json"), [[700, 0, 600, 0], [0, 710, 180, 0], [0, 0, 1, 0]])
    (tmp_path / "p.json").write_text('{"P": ' + str(m.tolist()) + "}")
    assert np.allclose(load_camera(tmp_path / "p.json"), m)


@pytest.mark.parametrize("text,needle", [("P0: 1 0 0 0 0 1 0 0 0 0 1 0\n", "P2"), ('{"fx": 1}', "fx, fy, cx, cy"),
                                         ("1 2 3", "12 numbers"), ("{not json", "invalid JSON"),
                                         ("hello world", "not a camera file")])
def test_bad_camera_files_give_a_clear_error(tmp_path, text, needle):
    from centernet.errors import InputError
    path = tmp_path / "cam.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        load_camera(path)
    with pytest.raises(InputError, match="not found"):
        load_camera(tmp_path / "missing.txt")

"""3D boxes in camera coordinates (KITTI conventions): corners, projection, unprojection, angles.

Camera frame: x right, y down, z forward, metres. A box is (h, w, l), the location of its bottom
centre and rot_y, the yaw about the camera's y axis (0 = facing the camera's +x). A camera is a
3x4 projection matrix P (KITTI's `P2`), see `cameras.py`.

The functions for detections work in float32 like the original, so results match it to the bit.
"""
from __future__ import annotations

import numpy as np


def box3d_corners(dims_hwl, location, rot_y: float) -> np.ndarray:
    """The 8 corners (8, 3) of a box; corners 0-3 are the front face (the +l/2 end, where the object heads).

    Order: the front face going round (0, 1 on the ground, 2, 3 at height h above them), then the
    back face in the same order (4-7), so corner i and i + 4 share an edge. Float64.
    """
    h, w, l = (float(v) for v in dims_hwl)
    c, s = np.cos(float(rot_y)), np.sin(float(rot_y))
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    x = np.array([l, l, l, l, -l, -l, -l, -l]) / 2
    y = np.array([0.0, 0.0, -h, -h, 0.0, 0.0, -h, -h])
    z = np.array([w, -w, -w, w, w, -w, -w, w]) / 2
    return (rot @ np.stack([x, y, z]) + np.asarray(location, dtype=np.float64).reshape(3, 1)).T


def project_points(points_3d, camera) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) image pixels with a 3x4 projection matrix."""
    pts = np.asarray(points_3d, dtype=np.float64).reshape(-1, 3)
    homo = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(camera, dtype=np.float64).T
    return homo[:, :2] / homo[:, 2:3]


def box3d_to_2d(dims_hwl, location, rot_y: float, camera) -> np.ndarray:
    """The image-pixel box (x1, y1, x2, y2) around a 3D box's projected corners."""
    pts = project_points(box3d_corners(dims_hwl, location, rot_y), camera)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def unproject(points_2d, depth, camera) -> np.ndarray:
    """Image pixels (N, 2) at depth (N,) -> camera-frame points (N, 3), float32 as the original.

    z = depth - P[2,3]; x = (u depth - P[0,3] - P[0,2] z) / P[0,0]; y likewise with row 1.
    """
    p = np.asarray(camera, dtype=np.float32)
    pts = np.asarray(points_2d, dtype=np.float32).reshape(-1, 2)
    depth = np.asarray(depth, dtype=np.float32).reshape(-1)
    z = depth - p[2, 3]
    x = (pts[:, 0] * depth - p[0, 3] - p[0, 2] * z) / p[0, 0]
    y = (pts[:, 1] * depth - p[1, 3] - p[1, 2] * z) / p[1, 1]
    return np.stack([x, y, z], axis=1).astype(np.float32)


def alpha_to_rot_y(alpha, u, camera) -> np.ndarray:
    """Yaw from the observation angle and the image column u: alpha + atan2(u - cx, fx), wrapped once to [-pi, pi]."""
    p = np.asarray(camera, dtype=np.float32)
    rot_y = np.asarray(alpha, dtype=np.float32) + np.arctan2(np.asarray(u, dtype=np.float32) - p[0, 2], p[0, 0])
    rot_y = np.where(rot_y > np.pi, rot_y - np.float32(2 * np.pi), rot_y)
    rot_y = np.where(rot_y < -np.pi, rot_y + np.float32(2 * np.pi), rot_y)
    return rot_y.astype(np.float32)


def rot_y_to_alpha(rot_y, u, camera) -> np.ndarray:
    """The inverse of `alpha_to_rot_y` (wrapped to [-pi, pi])."""
    p = np.asarray(camera, dtype=np.float64)
    alpha = np.asarray(rot_y, dtype=np.float64) - np.arctan2(np.asarray(u, dtype=np.float64) - p[0, 2], p[0, 0])
    return (alpha + np.pi) % (2 * np.pi) - np.pi


def location_from_center(center_2d, depth, dims_hwl, camera) -> np.ndarray:
    """KITTI location (bottom centre) of boxes whose 3D centre projects to center_2d at depth: (N, 3) float32."""
    loc = unproject(center_2d, depth, camera)
    loc[:, 1] += np.asarray(dims_hwl, dtype=np.float32).reshape(-1, 3)[:, 0] / 2
    return loc


def birds_eye_corners(dims_hwl, location, rot_y: float) -> np.ndarray:
    """The 4 ground corners (x, z) of a box seen from above, front edge first: (4, 2)."""
    corners = box3d_corners(dims_hwl, location, rot_y)
    return corners[[0, 1, 5, 4]][:, [0, 2]]

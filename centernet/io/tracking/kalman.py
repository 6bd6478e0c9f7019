"""Constant-velocity Kalman filter in (centre x, centre y, aspect w/h, height), as SORT and ByteTrack use it.

The state is the measurement plus its velocity per frame (8 numbers). The noise of position and velocity
scales with the box height, so a large near person and a small far one are equally certain in relative
terms (the weights 1/20 and 1/160 are SORT/DeepSORT's). Pure functions of numpy arrays: the caller keeps
(mean, covariance) per track, which keeps a tracker's state plain data.
"""
from __future__ import annotations

import numpy as np

POSITION_WEIGHT = 1.0 / 20
VELOCITY_WEIGHT = 1.0 / 160

_MOTION = np.eye(8)
_MOTION[:4, 4:] = np.eye(4)         # position += velocity, one frame
_OBSERVE = np.eye(4, 8)             # we measure the position part


def xyxy_to_xyah(box: np.ndarray) -> np.ndarray:
    w, h = box[2] - box[0], max(box[3] - box[1], 1e-6)
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, w / h, h], dtype=np.float64)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    cx, cy, a, h = xyah[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


def initiate(measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A new track's (mean, covariance) from its first box (xyah); velocity unknown, so wide."""
    h = measurement[3]
    std = [2 * POSITION_WEIGHT * h, 2 * POSITION_WEIGHT * h, 1e-2, 2 * POSITION_WEIGHT * h,
           10 * VELOCITY_WEIGHT * h, 10 * VELOCITY_WEIGHT * h, 1e-5, 10 * VELOCITY_WEIGHT * h]
    return np.r_[measurement, np.zeros(4)], np.diag(np.square(std))


def predict(mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead."""
    h = mean[3]
    std = [POSITION_WEIGHT * h, POSITION_WEIGHT * h, 1e-2, POSITION_WEIGHT * h,
           VELOCITY_WEIGHT * h, VELOCITY_WEIGHT * h, 1e-5, VELOCITY_WEIGHT * h]
    return _MOTION @ mean, _MOTION @ covariance @ _MOTION.T + np.diag(np.square(std))


def update(mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct (mean, covariance) with a measured box (xyah)."""
    h = mean[3]
    noise = np.diag(np.square([POSITION_WEIGHT * h, POSITION_WEIGHT * h, 1e-1, POSITION_WEIGHT * h]))
    projected_cov = _OBSERVE @ covariance @ _OBSERVE.T + noise
    gain = np.linalg.solve(projected_cov, _OBSERVE @ covariance).T     # covariance is symmetric
    new_mean = mean + gain @ (measurement - _OBSERVE @ mean)
    new_cov = covariance - gain @ projected_cov @ gain.T
    return new_mean, new_cov

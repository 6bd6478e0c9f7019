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


def xyxy_to_xyah(box: np.ndarray) -> np.ndarray:
    """(centre x, centre y, w / h, h) of one box (4,) or many (N, 4)."""
    box = np.asarray(box, dtype=np.float64)
    w, h = box[..., 2] - box[..., 0], np.maximum(box[..., 3] - box[..., 1], 1e-6)
    return np.stack([(box[..., 0] + box[..., 2]) / 2, (box[..., 1] + box[..., 3]) / 2, w / h, h], axis=-1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """Boxes from (..., >=4) Kalman means."""
    cx, cy, a, h = (xyah[..., k] for k in range(4))
    w = a * h
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).astype(np.float64)


def initiate(measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A new track's (mean, covariance) from its first box (xyah); velocity unknown, so wide."""
    h = measurement[3]
    std = [2 * POSITION_WEIGHT * h, 2 * POSITION_WEIGHT * h, 1e-2, 2 * POSITION_WEIGHT * h,
           10 * VELOCITY_WEIGHT * h, 10 * VELOCITY_WEIGHT * h, 1e-5, 10 * VELOCITY_WEIGHT * h]
    return np.r_[measurement, np.zeros(4)], np.diag(np.square(std))


def predict(mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead; for one track ((8,), (8, 8)) or many at once ((N, 8), (N, 8, 8))."""
    h = mean[..., 3:4]
    weights = np.array([POSITION_WEIGHT, POSITION_WEIGHT, 0.0, POSITION_WEIGHT,
                        VELOCITY_WEIGHT, VELOCITY_WEIGHT, 0.0, VELOCITY_WEIGHT])
    fixed = np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0])     # the aspect's noise does not scale with height
    variance = np.square(weights * h + fixed)
    return mean @ _MOTION.T, _MOTION @ covariance @ _MOTION.T + np.eye(8) * variance[..., None, :]


def update(mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct (mean, covariance) with a measured box (xyah); batched like `predict`."""
    h = mean[..., 3:4]
    std = np.array([POSITION_WEIGHT, POSITION_WEIGHT, 0.0, POSITION_WEIGHT]) * h + np.array([0, 0, 1e-1, 0])
    projected_cov = covariance[..., :4, :4] + np.eye(4) * np.square(std)[..., None, :]
    gain = np.swapaxes(np.linalg.solve(projected_cov, covariance[..., :4, :]), -1, -2)   # covariance is symmetric
    innovation = measurement - mean[..., :4]
    new_mean = mean + (gain @ innovation[..., None])[..., 0]
    new_cov = covariance - gain @ projected_cov @ np.swapaxes(gain, -1, -2)
    return new_mean, new_cov

"""A result drawn by the one renderer (`centernet.io.render`): what the window shows, on a copy of the frame."""
from __future__ import annotations

import numpy as np

from centernet.io.render import RenderOptions, draw_detections, draw_trails
from centernet.live.frames import StreamResult


def draw_result(result: StreamResult, class_names, options: RenderOptions = RenderOptions(), trails: dict | None = None,
                camera: np.ndarray | None = None) -> np.ndarray:
    """A BGR copy of `result.image` with its detections (and track trails, when given) drawn."""
    image = draw_detections(result.image, result.detections, class_names, options, camera)
    return draw_trails(image, trails, options) if trails else image

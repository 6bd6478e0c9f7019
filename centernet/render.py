"""The one renderer: boxes, labels, skeletons and cuboids drawn with OpenCV on BGR images.

The GUI, `detect` and `annotate` all draw through `draw_detections`, so what you see is what you export.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .classes import COCO_SKELETON
from .detections import Detections
from .transforms import as_bgr_uint8


def color_for(index: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour per class or track id (golden-ratio hues)."""
    hue = (index * 0.618033988749895) % 1.0
    hsv = np.uint8([[[int(hue * 179), 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


@dataclass(frozen=True)
class RenderOptions:
    threshold: float = 0.3
    classes: frozenset | None = None  # class indices to show; None = all
    boxes: bool = True
    labels: bool = True
    skeleton: bool = True
    cuboids: bool = True
    keypoint_threshold: float = 0.1
    color_by_track: bool = True


def visible(dets: Detections, opts: RenderOptions) -> Detections:
    """The detections a render with these options shows."""
    return dets.above(opts.threshold).only_labels(opts.classes)


def draw_detections(image: np.ndarray, dets: Detections, class_names, opts: RenderOptions = RenderOptions(),
                    camera: np.ndarray | None = None) -> np.ndarray:
    """A copy of the BGR image with the visible detections drawn (image-pixel coordinates)."""
    canvas = as_bgr_uint8(image).copy()
    shown = visible(dets, opts)
    d = shown.numpy()
    thickness = max(1, round(max(canvas.shape[:2]) / 500))
    for i in range(len(shown)):
        label = int(d["labels"][i])
        track = int(d["track_ids"][i]) if "track_ids" in d else None
        color = color_for(track if (track is not None and opts.color_by_track) else label)
        if "keypoints" in d and opts.skeleton:
            draw_skeleton(canvas, d["keypoints"][i], d.get("keypoint_scores", {i: None})[i], color, thickness,
                          opts.keypoint_threshold)
        if "location" in d and opts.cuboids and camera is not None:
            from .geometry3d import box3d_corners, project_points
            corners = project_points(box3d_corners(d["dims"][i], d["location"][i], d["rotation_y"][i]), camera)
            draw_cuboid(canvas, corners, color, thickness)
        elif opts.boxes:
            x1, y1, x2, y2 = (int(round(float(v))) for v in d["boxes"][i])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        if opts.labels:
            name = class_names[label] if 0 <= label < len(class_names) else str(label)
            text = f"{name} {float(d['scores'][i]):.2f}" + (f" #{track}" if track is not None else "")
            x1, y1 = int(round(float(d["boxes"][i][0]))), int(round(float(d["boxes"][i][1])))
            draw_label(canvas, text, (x1, y1), color)
    return canvas


def draw_label(canvas: np.ndarray, text: str, corner: tuple[int, int], color) -> None:
    scale = max(0.4, max(canvas.shape[:2]) / 1600)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = min(max(corner[0], 0), max(canvas.shape[1] - tw - 2, 0))
    y = max(corner[1], th + base + 2)
    cv2.rectangle(canvas, (x, y - th - base - 2), (x + tw + 2, y), color, -1)
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(canvas, text, (x + 1, y - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)


def draw_skeleton(canvas, joints, scores, color, thickness, min_score=0.1, edges=COCO_SKELETON) -> None:
    ok = np.ones(len(joints), bool) if scores is None else np.asarray(scores) >= min_score
    pts = [(int(round(float(x))), int(round(float(y)))) for x, y in joints]
    for a, b in edges:
        if a < len(pts) and b < len(pts) and ok[a] and ok[b]:
            cv2.line(canvas, pts[a], pts[b], color, thickness + 1, cv2.LINE_AA)
    for j, p in enumerate(pts):
        if ok[j]:
            cv2.circle(canvas, p, thickness + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, p, thickness + 1, color, -1, cv2.LINE_AA)


# corner indices of the 12 cuboid edges; the first four corners are the front face
CUBOID_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


def draw_cuboid(canvas, corners_2d: np.ndarray, color, thickness) -> None:
    pts = [(int(round(float(x))), int(round(float(y)))) for x, y in corners_2d]
    for a, b in CUBOID_EDGES:
        cv2.line(canvas, pts[a], pts[b], color, thickness, cv2.LINE_AA)
    # front face marked with a cross, so heading is visible
    cv2.line(canvas, pts[0], pts[2], color, thickness, cv2.LINE_AA)
    cv2.line(canvas, pts[1], pts[3], color, thickness, cv2.LINE_AA)

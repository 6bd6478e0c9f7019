"""The one renderer: boxes, labels, skeletons and cuboids drawn with OpenCV on BGR images.

The GUI, `detect` and `annotate` all draw through `draw_detections`, so what you see is what you export.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from centernet.classes import COCO_SKELETON
from centernet.detections import Detections
from centernet.geometry.transforms import as_bgr_uint8
from centernet.geometry.boxes3d import birds_eye_corners, box3d_corners, project_points


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
    birds_eye: bool = False  # ddd: a top-down inset of the 3D boxes


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
    colors = []
    labels_taken: list[tuple[int, int, int, int]] = []   # label rectangles drawn so far (kept apart)
    for i in range(len(shown)):
        label = int(d["labels"][i])
        track = int(d["track_ids"][i]) if "track_ids" in d and d["track_ids"][i] > 0 else None  # -1: not confirmed
        color = color_for(track if (track is not None and opts.color_by_track) else label)
        colors.append(color)
        if "keypoints" in d and opts.skeleton:
            draw_skeleton(canvas, d["keypoints"][i], d.get("keypoint_scores", {i: None})[i], color, thickness,
                          opts.keypoint_threshold)
        corners = None
        if "location" in d and opts.cuboids and camera is not None:
            corners3d = box3d_corners(d["dims"][i], d["location"][i], d["rotation_y"][i])
            if np.all(corners3d[:, 2] > 0.1):  # a box reaching behind the camera has no sensible outline
                corners = project_points(corners3d, camera)
        if corners is not None:
            draw_cuboid(canvas, corners, color, thickness)
        elif opts.boxes:
            x1, y1, x2, y2 = (int(round(float(v))) for v in d["boxes"][i])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        if opts.labels:
            name = class_names[label] if 0 <= label < len(class_names) else str(label)
            text = f"{name} {float(d['scores'][i]):.2f}" + (f" #{track}" if track is not None else "")
            x1, y1 = int(round(float(d["boxes"][i][0]))), int(round(float(d["boxes"][i][1])))
            draw_label(canvas, text, (x1, y1), color, labels_taken)
    if opts.birds_eye and "location" in d:
        draw_birds_eye(canvas, shown, colors)
    return canvas


def draw_trails(image: np.ndarray, trails: dict, opts: RenderOptions = RenderOptions()) -> np.ndarray:
    """`image` with each track's recent centres ({id: [(x, y), ...] pixels, oldest first}) as a line fading to
    the past."""
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for track, points in trails.items():
        if len(points) < 2:
            continue
        color = color_for(track if opts.color_by_track else 0)
        pts = [(int(round(x)), int(round(y))) for x, y in points]
        for k in range(1, len(pts)):
            fade = 0.35 + 0.65 * k / (len(pts) - 1)        # older segments drawn darker
            cv2.line(image, pts[k - 1], pts[k], tuple(c * fade for c in color), thickness, cv2.LINE_AA)
    return image


def label_scale(canvas_shape) -> float:
    return max(0.4, max(canvas_shape[:2]) / 1600)


def place_label(size: tuple[int, int], corner: tuple[int, int], canvas_hw: tuple[int, int],
                taken=(), tries: int = 8) -> tuple[int, int, int, int]:
    """The rectangle (x1, y1, x2, y2) for a label of `size` (w, h) at a box's top-left `corner`.

    Above the box by default; when that would cover an earlier label, moved down a line at a time (into
    the box) until it covers none, so overlapping boxes keep readable labels; inside the canvas.
    """
    w, h = size
    canvas_h, canvas_w = canvas_hw
    x = min(max(corner[0], 0), max(canvas_w - w, 0))
    same_columns = [(t[1], t[3]) for t in taken if x < t[2] and t[0] < x + w]
    lowest = max(canvas_h - h, 0)
    tops = [min(max(corner[1] - h + k * h, 0), lowest) for k in range(tries)]
    for top in tops:
        if not any(top < bottom and other_top < top + h for other_top, bottom in same_columns):
            return x, top, x + w, top + h
    return x, tops[0], x + w, tops[0] + h


def draw_label(canvas: np.ndarray, text: str, corner: tuple[int, int], color, taken: list | None = None) -> tuple:
    """Draw a label at a box's top-left corner, kept off the rectangles in `taken` (its own is added)."""
    scale = label_scale(canvas.shape)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    taken = [] if taken is None else taken
    x1, y1, x2, y2 = place_label((tw + 2, th + base + 2), corner, canvas.shape[:2], taken)
    taken.append((x1, y1, x2, y2))
    cv2.rectangle(canvas, (x1, y1), (x2, y2), color, -1)
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(canvas, text, (x1 + 1, y2 - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)
    return x1, y1, x2, y2


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


def draw_heatmap(image: np.ndarray, heat: np.ndarray, to_image: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """A copy of the BGR image with a [0, 1] heatmap (H, W, in output-map cells) blended over it.

    `to_image` is the 2x3 matrix from output-map cells to image pixels
    (`InputTransform.output_to_image(down_ratio)`); colder cells stay transparent.
    """
    canvas = as_bgr_uint8(image)
    h, w = canvas.shape[:2]
    up = cv2.warpAffine(np.ascontiguousarray(heat, dtype=np.float32), np.asarray(to_image, np.float64), (w, h),
                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    np.clip(up, 0.0, 1.0, out=up)
    colored = cv2.applyColorMap((up * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    weight = np.sqrt(up) * alpha  # gamma 0.5: peaks of 0.3-0.5 stay visible, the background stays faint
    return cv2.blendLinear(canvas, colored, 1.0 - weight, weight)


def draw_birds_eye(canvas: np.ndarray, dets: Detections, colors, extent_x: float = 20.0, extent_z: float = 60.0,
                   fraction: float = 0.3) -> None:
    """A top-down inset (top-right corner) of ddd boxes: x in [-extent_x, extent_x] m, z in [0, extent_z] m,
    the camera at the bottom centre; each box's ground outline, front edge thicker."""
    size = max(40, int(min(canvas.shape[:2]) * fraction))
    inset = np.full((size, size, 3), 32, np.uint8)

    def to_px(xz):
        return np.stack([(xz[:, 0] / extent_x + 1) * size / 2, size - xz[:, 1] / extent_z * size], 1)

    for z in range(10, int(extent_z), 10):  # a range ring every 10 m
        cv2.line(inset, (0, int(size - z / extent_z * size)), (size, int(size - z / extent_z * size)), (70, 70, 70), 1)
    d = dets.numpy()
    for i in range(len(dets)):
        pts = np.round(to_px(birds_eye_corners(d["dims"][i], d["location"][i], d["rotation_y"][i]))).astype(np.int32)
        cv2.polylines(inset, [pts.reshape(-1, 1, 2)], True, colors[i], 1, cv2.LINE_AA)
        cv2.line(inset, tuple(int(v) for v in pts[0]), tuple(int(v) for v in pts[1]), colors[i], 2, cv2.LINE_AA)
    cv2.circle(inset, (size // 2, size - 2), 3, (255, 255, 255), -1)
    canvas[:size, canvas.shape[1] - size:] = inset

"""Class names, dataset category ids, body joints and skeleton edges."""
from __future__ import annotations

from centernet.errors import InputError

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

# COCO's category ids skip 12, 26, 29, 30, 45, 66, 68, 69, 71 and 83.
COCO_CATEGORY_IDS = (
    tuple(range(1, 12)) + tuple(range(13, 26)) + (27, 28) + tuple(range(31, 45))
    + tuple(range(46, 66)) + (67, 70) + tuple(range(72, 83)) + tuple(range(84, 91))
)
assert len(COCO_CLASSES) == len(COCO_CATEGORY_IDS) == 80

# the original ddd heatmap channel order (its kitti.py class_name list, background dropped)
KITTI_CLASSES = ("Pedestrian", "Car", "Cyclist")

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)

COCO_PERSON = ("person",)

COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
# Left/right joint pairs swapped by a horizontal flip (0-based).
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# Skeleton edges drawn between joints (0-based), COCO's own list.
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

DATASET_CLASSES = {"coco": COCO_CLASSES, "kitti": KITTI_CLASSES, "pascal": VOC_CLASSES,
                   "coco_hp": COCO_PERSON}


def category_ids_for(class_names):
    """Dataset category ids for a class list: COCO's real ids for COCO's 80, else 1..N."""
    if tuple(class_names) == COCO_CLASSES:
        return COCO_CATEGORY_IDS
    return tuple(range(1, len(class_names) + 1))


def default_classes(task, num_classes):
    """The class names the original model zoo uses for a task and head width."""
    if task == "multi_pose":
        return COCO_PERSON
    if task == "ddd" and num_classes == 3:
        return KITTI_CLASSES
    if num_classes == 80:
        return COCO_CLASSES
    if num_classes == 20:
        return VOC_CLASSES
    return tuple(f"class_{i}" for i in range(num_classes))


def parse_classes(text: str | None, class_names) -> frozenset | None:
    """--classes 'person,car' or '0,2' -> class indices."""
    if not text:
        return None
    lookup = {n.lower(): i for i, n in enumerate(class_names)}
    out = set()
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item.isdigit() and int(item) < len(class_names):
            out.add(int(item))
        elif item.lower() in lookup:
            out.add(lookup[item.lower()])
        else:
            raise InputError(f"unknown class {item!r} in --classes: use names such as {', '.join(class_names[:3])}")
    if not out:   # "," or " , ": keeping no class would export nothing, silently
        raise InputError(f"--classes {text!r} names no class: give names or indices, e.g. "
                         f"{', '.join(class_names[:2])}")
    return frozenset(out)

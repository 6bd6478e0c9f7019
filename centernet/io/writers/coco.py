"""COCO-format rows: results files (`loadRes`) and annotation files."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from centernet.classes import category_ids_for
from centernet.detections import Detections
from centernet.io.writers.atomic import atomic_file
from centernet.io.writers.records import FrameRecord


def image_id_for(path: Path, index: int) -> int:
    """COCO's numeric file stem (000000000139.jpg -> 139) when there is one, else the index."""
    return int(path.stem) if path.stem.isdigit() else index


def result_rows(dets: Detections, image_id: int, class_names, file_name: str | None = None) -> list[dict]:
    """One COCO result dict per detection: bbox as [x, y, w, h], real category ids."""
    cat_ids = category_ids_for(class_names)
    d = dets.numpy()
    rows = []
    for i in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in d["boxes"][i])
        row = {"image_id": image_id, "category_id": int(cat_ids[int(d["labels"][i])]),
               "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
               "score": round(float(d["scores"][i]), 6)}
        if "keypoints" in d:  # COCO keypoint results: J x (x, y, v), v = the joint's score (1 when unknown)
            joint_scores = d["keypoint_scores"][i] if "keypoint_scores" in d else [1.0] * len(d["keypoints"][i])
            kps = []
            for (x, y), s in zip(d["keypoints"][i], joint_scores):
                kps += [round(float(x), 3), round(float(y), 3), round(float(s), 4)]
            row["keypoints"] = kps
        if "location" in d:  # ddd: the 3D fields (camera frame, metres, radians)
            row.update(alpha=round(float(d["alpha"][i]), 4), dim=[round(float(v), 4) for v in d["dims"][i]],
                       depth=round(float(d["depth"][i]), 4), location=[round(float(v), 4) for v in d["location"][i]],
                       rotation_y=round(float(d["rotation_y"][i]), 4))
        if file_name is not None:
            row["file_name"] = file_name
        rows.append(row)
    return rows


# ---- COCO-style annotation files for annotated videos and folders --------------------------------

def coco_categories(class_names, keypoint_names=None, skeleton=None) -> list[dict]:
    """`categories` with the dataset's real ids; joint names and 1-based skeleton edges for poses."""
    cats = []
    for name, cat_id in zip(class_names, category_ids_for(class_names)):
        cat = {"id": int(cat_id), "name": name, "supercategory": name}
        if keypoint_names:
            cat["keypoints"] = list(keypoint_names)
            cat["skeleton"] = [[a + 1, b + 1] for a, b in (skeleton or ())]
        cats.append(cat)
    return cats


def image_entry(record: FrameRecord, video_name: str | None = None) -> dict:
    """One `images` entry: file name (folders) or video name, 0-based frame index, timestamp, size."""
    entry = {"id": record.image_id, "width": record.width, "height": record.height,
             "frame_index": record.index, "timestamp_ms": round(record.time_ms, 3)}
    if record.file_name is not None:
        entry["file_name"] = record.file_name
    elif video_name is not None:
        entry["video"] = video_name
    return entry


def annotation_rows(record: FrameRecord, class_names, first_id: int, tracking: bool = False) -> list[dict]:
    """`annotations` of one frame: the `detect` results rows plus id, area, iscrowd, track and 3D fields."""
    rows = result_rows(record.dets, record.image_id, class_names)
    d = record.dets.numpy()
    out = []
    for i, row in enumerate(rows):
        x, y, w, h = row["bbox"]
        ann = {"id": first_id + i, "image_id": row["image_id"], "category_id": row["category_id"], "bbox": row["bbox"],
               "area": round(w * h, 3), "iscrowd": 0, "score": row["score"]}
        if tracking:
            ann["track_id"] = int(d["track_ids"][i]) if "track_ids" in d else -1
        if "keypoints" in row:
            ann["keypoints"] = row["keypoints"]
            ann["num_keypoints"] = len(row["keypoints"]) // 3
        if "depth" in d:
            ann["depth"] = round(float(d["depth"][i]), 4)
        if "dims" in d:
            ann["dim"] = [round(float(v), 4) for v in d["dims"][i]]
        if "alpha" in d:
            ann["alpha"] = round(float(d["alpha"][i]), 4)
        if "location" in d:
            ann["location"] = [round(float(v), 4) for v in d["location"][i]]
        if "rotation_y" in d:
            ann["rotation_y"] = round(float(d["rotation_y"][i]), 4)
        out.append(ann)
    return out


def write_coco_annotations(path: Path, records: Callable[[], Iterable[FrameRecord]], class_names, info: dict,
                           tracking: bool = False, keypoint_names=None, skeleton=None,
                           video_name: str | None = None) -> int:
    """Write a COCO-style file (`pycocotools.COCO(path)` loads it) atomically; returns the annotation count.

    `records` is called twice (images, then annotations) so the frames are streamed from disk, never
    all held in memory. One image or annotation per line; no dates, so equal inputs give equal bytes.
    """
    cats = coco_categories(class_names, keypoint_names, skeleton)
    count = 0
    with atomic_file(path) as f:
        f.write('{"info": ' + json.dumps(info) + ',\n"categories": ' + json.dumps(cats) + ',\n"images": [')
        for k, record in enumerate(records()):
            f.write(("," if k else "") + "\n" + json.dumps(image_entry(record, video_name)))
        f.write('\n],\n"annotations": [')
        for record in records():
            for ann in annotation_rows(record, class_names, count + 1, tracking):
                f.write(("," if count else "") + "\n" + json.dumps(ann))
                count += 1
        f.write("\n]}\n")
    return count

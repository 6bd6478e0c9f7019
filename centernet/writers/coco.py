"""COCO-format rows: results files (`loadRes`) and annotation files."""
from __future__ import annotations

from pathlib import Path

from ..classes import category_ids_for
from ..detections import Detections


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
        if "keypoints" in d:
            kps = []
            for (x, y), s in zip(d["keypoints"][i], d.get("keypoint_scores", [[1.0] * len(d["keypoints"][i])])[i]):
                kps += [round(float(x), 3), round(float(y), 3), round(float(s), 4)]
            row["keypoints"] = kps
        if file_name is not None:
            row["file_name"] = file_name
        rows.append(row)
    return rows

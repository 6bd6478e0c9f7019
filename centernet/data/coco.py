"""COCO-format datasets: COCO itself (boxes, person keypoints) and custom sets with their own classes.

A folder is searched for `annotations/instances_<split>*.json` (or `person_keypoints_...` for
multi_pose), then any annotation json; images are looked up in `<root>/<split stem>` (COCO's
`val2017/`), `<root>/images`, the root and the json's own folder. Crowd annotations and boxes with
no area are left out of training targets.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from centernet.classes import COCO_CATEGORY_IDS, COCO_CLASSES
from centernet.errors import ConfigError, InputError
from centernet.data.samples import DetectionSet, Sample

log = logging.getLogger(__name__)

PREFIX = {"ctdet": "instances", "multi_pose": "person_keypoints"}


class AnnotationFileError(InputError):
    """An annotation file exists but is broken (not JSON, truncated, or missing required fields): callers
    that fall back to "no ground truth" when there is no file must not do so for a broken one."""


def find_annotation(folder: Path, task: str, split: str) -> Path:
    """The annotation file of a COCO-style folder for a task and split."""
    prefix = PREFIX.get(task, "instances")
    ann_dir = folder / "annotations" if (folder / "annotations").is_dir() else folder
    jsons = sorted(ann_dir.glob("*.json"))
    for pattern in (f"{prefix}_{split}*.json", f"{prefix}_*.json"):
        found = sorted(ann_dir.glob(pattern))
        if found:
            return found[0]
    if task == "ctdet":
        others = [p for p in jsons if not p.name.startswith("person_keypoints")] or jsons
        if others:
            return others[0]
    raise InputError(f"no {prefix}_*.json annotation file in {ann_dir}: give the annotation file with --data")


def find_image_dir(ann_file: Path, file_name: str, root: Path | None = None) -> Path:
    """The folder holding the first image named by the annotation file."""
    ann_dir = ann_file.parent
    root = root or (ann_dir.parent if ann_dir.name == "annotations" else ann_dir)
    split = ann_file.stem.split("_")[-1]  # instances_val2017 -> val2017
    for folder in (root / split, root / "images", root, ann_dir, ann_dir / "images"):
        if (folder / file_name).is_file():
            return folder
    raise InputError(f"cannot find the images of {ann_file} (looked for {file_name} in {root / split}, "
                     f"{root / 'images'} and {root})")


def class_table(categories: list[dict]) -> tuple[tuple, tuple]:
    """(class names, category ids) in training order: COCO's own order for COCO, else by id."""
    by_id = {c["id"]: c["name"] for c in categories}
    if set(by_id) == set(COCO_CATEGORY_IDS) and all(by_id[i] == n for i, n in zip(COCO_CATEGORY_IDS, COCO_CLASSES)):
        return COCO_CLASSES, COCO_CATEGORY_IDS
    ids = tuple(sorted(by_id))
    return tuple(by_id[i] for i in ids), ids


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_coco_schema(gt, source) -> None:
    """InputError naming the file, the entry and the field when a COCO file lacks what loading and
    evaluation read (so a bad file fails on load in one line, not with a KeyError mid-training)."""
    if not isinstance(gt, dict):
        raise AnnotationFileError(f"{source} is not a COCO annotation file (a JSON object with images, "
                                  f"annotations, categories)")
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt.get(key), list):
            raise AnnotationFileError(f"{source} is not a COCO annotation file (no {key!r} list)")
    for n, info in enumerate(gt["images"]):
        if not isinstance(info, dict) or not _is_number(info.get("id")) or not isinstance(info.get("file_name"), str):
            raise AnnotationFileError(f"{source}: image #{n} needs a numeric 'id' and a 'file_name'")
    for n, cat in enumerate(gt["categories"]):
        if not isinstance(cat, dict) or not _is_number(cat.get("id")) or "name" not in cat:
            raise AnnotationFileError(f"{source}: category #{n} needs a numeric 'id' and a 'name'")
    for n, ann in enumerate(gt["annotations"]):
        if not isinstance(ann, dict):
            raise AnnotationFileError(f"{source}: annotation #{n} is not an object")
        which = f"annotation id {ann['id']}" if "id" in ann else f"annotation #{n}"
        for key in ("image_id", "category_id"):
            if not _is_number(ann.get(key)):
                raise AnnotationFileError(f"{source}: {which} has {_describe(ann, key)} {key!r}: it must be a number")
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise AnnotationFileError(f"{source}: {which} has {_describe(ann, 'bbox')} 'bbox': it must be "
                                      f"[x, y, width, height], four numbers")
        if "keypoints" in ann and not (isinstance(ann["keypoints"], list)
                                       and all(_is_number(v) for v in ann["keypoints"])):
            raise AnnotationFileError(f"{source}: {which} has a bad 'keypoints' field: it must be a list of numbers")


def _describe(entry: dict, key: str) -> str:
    return "no" if key not in entry else f"a bad ({json.dumps(entry[key])[:40]})"


def load_coco(path: str | Path, task: str = "ctdet", split: str = "train") -> DetectionSet:
    """A COCO-format folder or annotation file as a DetectionSet (ctdet or multi_pose)."""
    path = Path(path)
    if task not in PREFIX:
        raise ConfigError(f"COCO-format data serves ctdet and multi_pose, not {task!r}")
    ann_file = path if path.is_file() else find_annotation(path, task, split)
    try:
        gt = json.loads(ann_file.read_text())
    except (OSError, ValueError) as e:
        raise AnnotationFileError(f"cannot read COCO annotations {ann_file}: {e}") from None
    check_coco_schema(gt, ann_file)
    if not gt["images"]:
        raise InputError(f"{ann_file} lists no images")
    num_joints = 0
    if task == "multi_pose":
        person = [c for c in gt["categories"] if c.get("keypoints")]
        if not person:
            raise InputError(f"{ann_file} has no keypoint category: multi_pose needs person_keypoints annotations")
        num_joints = len(person[0]["keypoints"])
        class_names, category_ids = (person[0]["name"],), (person[0]["id"],)
    else:
        class_names, category_ids = class_table(gt["categories"])
    index_of = {cid: i for i, cid in enumerate(category_ids)}
    warn_unknown_categories(gt, ann_file)
    image_dir = find_image_dir(ann_file, gt["images"][0]["file_name"], path if path.is_dir() else None)
    by_image: dict[int, list] = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    samples = []
    for info in gt["images"]:
        anns = [a for a in by_image.get(info["id"], []) if not a.get("iscrowd", 0)
                and a["category_id"] in index_of and a["bbox"][2] > 0 and a["bbox"][3] > 0]
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns], dtype=np.float32).reshape(-1, 4)
        labels = np.array([index_of[a["category_id"]] for a in anns], dtype=np.int64)
        sample = Sample(int(info["id"]), info["file_name"], boxes, labels, path=image_dir / info["file_name"])
        if task == "multi_pose":
            sample.keypoints = np.array([a.get("keypoints", [0] * 3 * num_joints) for a in anns],
                                        dtype=np.float32).reshape(-1, num_joints, 3)
        samples.append(sample)
    return DetectionSet(ann_file.stem, task, samples, class_names, category_ids, ensure_eval_fields(gt), num_joints)


def warn_unknown_categories(gt: dict, ann_file: Path) -> None:
    """Annotations whose category_id no category has are left out (as before), but said once, not silently."""
    known = {c["id"] for c in gt["categories"]}
    unknown = [a for a in gt["annotations"] if a["category_id"] not in known]
    if unknown:
        first = unknown[0]
        log.warning(f"warning: {ann_file}: skipped {len(unknown)} of {len(gt['annotations'])} annotations whose "
                    f"category_id is not among its categories (the first: annotation id {first.get('id', '?')}, "
                    f"category_id {first['category_id']}); used the rest")


def ensure_eval_fields(gt: dict) -> dict:
    """Fill the fields pycocotools expects but custom files may lack (area, iscrowd, ids, info)."""
    gt = dict(gt)
    gt.setdefault("info", {})
    gt.setdefault("licenses", [])
    anns = []
    for i, a in enumerate(gt.get("annotations", [])):
        a = dict(a)
        a.setdefault("id", i + 1)
        a.setdefault("iscrowd", 0)
        a.setdefault("area", float(a["bbox"][2] * a["bbox"][3]))
        anns.append(a)
    gt["annotations"] = anns
    return gt


def to_coco_dict(samples: list[Sample], class_names, category_ids) -> dict:
    """COCO ground truth for samples (synthetic sets, or a subset written back out)."""
    images, anns = [], []
    for s in samples:
        h, w = (s.image.shape[:2] if s.image is not None else (s.meta.get("height", 0), s.meta.get("width", 0)))
        images.append({"id": s.image_id, "file_name": s.file_name, "height": int(h), "width": int(w)})
        for box, label in zip(s.boxes, s.labels):
            x1, y1, x2, y2 = (float(v) for v in box)
            anns.append({"id": len(anns) + 1, "image_id": s.image_id, "category_id": int(category_ids[int(label)]),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    cats = [{"id": int(i), "name": n, "supercategory": "object"} for i, n in zip(category_ids, class_names)]
    return {"info": {}, "licenses": [], "images": images, "annotations": anns, "categories": cats}

"""Accuracy the way papers report it: COCO box / keypoint AP (pycocotools) and KITTI 2D AP + AOS.

    metrics = coco_box_ap("instances_val2017.json", rows)      # rows: COCO result dicts
    print(format_coco_table(metrics))

`evaluate(detector, data)` runs a `Detector` over a `DetectionSet` and returns every metric that
fits its task. KITTI follows the official devkit (`evaluate_object`): Easy / Moderate / Hard by
box height, occlusion and truncation, DontCare regions, Van / Person_sitting neutral, overlap 0.7
for Car and 0.5 for Pedestrian / Cyclist, precision sampled at 41 recall points; AP_R40 averages
the 40 points above recall 0 (the current devkit), AP_R11 every 4th point (the original paper's).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from centernet.data import load_dataset
from centernet.data.coco import check_coco_schema, ensure_eval_fields
from centernet.data.samples import check_max_images
from centernet.errors import ConfigError, InputError
from centernet.inference.detector import Detector
from centernet.io.writers.atomic import write_json_atomic
from centernet.progress import Progress, Task, counted, no_progress
from centernet.io.writers.coco import result_rows
from centernet.io.writers.kitti import kitti_objects

BOX_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
KEYPOINT_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
_AP, _AR = ("Average Precision", "(AP)"), ("Average Recall", "(AR)")
_ALL_IOU = "0.50:0.95"
_BOX_LINES = [(*_AP, _ALL_IOU, "all", 100), (*_AP, "0.50", "all", 100), (*_AP, "0.75", "all", 100),
              (*_AP, _ALL_IOU, "small", 100), (*_AP, _ALL_IOU, "medium", 100), (*_AP, _ALL_IOU, "large", 100),
              (*_AR, _ALL_IOU, "all", 1), (*_AR, _ALL_IOU, "all", 10), (*_AR, _ALL_IOU, "all", 100),
              (*_AR, _ALL_IOU, "small", 100), (*_AR, _ALL_IOU, "medium", 100), (*_AR, _ALL_IOU, "large", 100)]
_KPT_LINES = [(*_AP, _ALL_IOU, "all", 20), (*_AP, "0.50", "all", 20), (*_AP, "0.75", "all", 20),
              (*_AP, _ALL_IOU, "medium", 20), (*_AP, _ALL_IOU, "large", 20), (*_AR, _ALL_IOU, "all", 20),
              (*_AR, "0.50", "all", 20), (*_AR, "0.75", "all", 20), (*_AR, _ALL_IOU, "medium", 20),
              (*_AR, _ALL_IOU, "large", 20)]


# ----------------------------------------------------------------------------------------- COCO
def coco_api(gt):
    """A pycocotools COCO from a path, a dict or a COCO (created quietly)."""
    if isinstance(gt, COCO):
        return gt
    if isinstance(gt, (str, Path)):
        path = gt
        try:
            gt = json.loads(Path(gt).read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read COCO ground truth {gt}: {e}") from None
        check_coco_schema(gt, path)
    api = COCO()
    api.dataset = ensure_eval_fields(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        api.createIndex()
    return api


def _coco_eval(gt, rows: list[dict], iou_type: str, names: tuple, image_ids=None) -> dict:
    api = coco_api(gt)
    ids = sorted(api.getImgIds()) if image_ids is None else sorted(int(i) for i in image_ids)
    rows = [r for r in rows if r["image_id"] in set(ids)] if image_ids is not None else list(rows)
    unknown = sorted({r["image_id"] for r in rows} - set(api.getImgIds()))
    if unknown:
        raise InputError(f"{len(unknown)} result image ids are not in the ground truth (e.g. {unknown[:5]}): "
                         f"results and annotations must use the same image ids")
    if iou_type == "keypoints":
        rows = [r for r in rows if r.get("keypoints")]
    if not rows or not ids:
        return {name: 0.0 for name in names}
    with contextlib.redirect_stdout(io.StringIO()):
        dets = api.loadRes(copy.deepcopy(rows))
        ev = COCOeval(api, dets, iou_type)
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(names, ev.stats)}


def coco_box_ap(gt, rows: list[dict], image_ids=None) -> dict:
    """COCO box AP / AR of result rows against ground truth (a json path, a dict or a COCO object).

    Returns AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl in [0, 1] (pycocotools'
    -1 where an area range has no ground truth); all zeros for an empty result. `image_ids`
    restricts the evaluation to those images (default: every image of the ground truth).
    """
    return _coco_eval(gt, rows, "bbox", BOX_STATS, image_ids)


def coco_keypoint_ap(gt, rows: list[dict], image_ids=None) -> dict:
    """COCO keypoint AP (OKS) of rows that carry "keypoints"; zeros for an empty result."""
    return _coco_eval(gt, rows, "keypoints", KEYPOINT_STATS, image_ids)


def format_coco_table(metrics: dict, kind: str = "bbox") -> str:
    """pycocotools' standard summary lines for metrics from coco_box_ap / coco_keypoint_ap."""
    lines = _BOX_LINES if kind == "bbox" else _KPT_LINES
    names = BOX_STATS if kind == "bbox" else KEYPOINT_STATS
    out = []
    for (title, short, iou, area, dets), name in zip(lines, names):
        out.append(f" {title:<18} {short} @[ IoU={iou:<9} | area={area:>6s} | maxDets={dets:>3d} ] = "
                   f"{metrics.get(name, 0.0):0.3f}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- KITTI
KITTI_MIN_HEIGHT = (40, 25, 25)
KITTI_MAX_OCCLUSION = (0, 1, 2)
KITTI_MAX_TRUNCATION = (0.15, 0.3, 0.5)
KITTI_MIN_OVERLAP = {"car": 0.7, "pedestrian": 0.5, "cyclist": 0.5}
KITTI_NEUTRAL = {"car": "van", "pedestrian": "person_sitting"}
DIFFICULTIES = ("easy", "moderate", "hard")
N_SAMPLE_PTS = 41
NO_DETECTION = -10000000.0


def _box_overlap(a, b, criterion: int = -1) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    if criterion == 0:
        return inter / area_a
    return inter / (area_a + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _clean(cls: str, gts: list, dets: list, difficulty: int):
    ignored_gt, dontcare, ignored_det, n_gt = [], [], [], 0
    for g in gts:
        kind = g.type.lower()
        height = g.box[3] - g.box[1]
        valid = 1 if kind == cls else 0 if KITTI_NEUTRAL.get(cls) == kind else -1
        hard = (g.occluded > KITTI_MAX_OCCLUSION[difficulty] or g.truncated > KITTI_MAX_TRUNCATION[difficulty]
                or height < KITTI_MIN_HEIGHT[difficulty])
        if valid == 1 and not hard:
            ignored_gt.append(0)
            n_gt += 1
        elif valid == 0 or (hard and valid == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
        if kind == "dontcare":
            dontcare.append(g)
    for d in dets:
        height = int(abs(d.box[1] - d.box[3]))  # the devkit truncates to an integer
        ignored_det.append(1 if height < KITTI_MIN_HEIGHT[difficulty] else 0 if d.type.lower() == cls else -1)
    return ignored_gt, dontcare, ignored_det, n_gt


def _statistics(cls, gts, dets, dontcare, ignored_gt, ignored_det, compute_fp, thresh=0.0, aos=False):
    tp = fp = fn = 0
    scores, deltas = [], []
    min_overlap = KITTI_MIN_OVERLAP[cls]
    assigned = [False] * len(dets)
    below = [compute_fp and d.score < thresh for d in dets]
    for i, g in enumerate(gts):
        if ignored_gt[i] == -1:
            continue
        det_idx, valid, max_overlap, assigned_ignored = -1, NO_DETECTION, 0.0, False
        for j, d in enumerate(dets):
            if ignored_det[j] == -1 or assigned[j] or below[j]:
                continue
            overlap = _box_overlap(d.box, g.box)
            if not compute_fp and overlap > min_overlap and d.score > valid:
                det_idx, valid = j, d.score
            elif compute_fp and overlap > min_overlap and (overlap > max_overlap or assigned_ignored) \
                    and ignored_det[j] == 0:
                max_overlap, det_idx, valid, assigned_ignored = overlap, j, 1, False
            elif compute_fp and overlap > min_overlap and valid == NO_DETECTION and ignored_det[j] == 1:
                det_idx, valid, assigned_ignored = j, 1, True
        if valid == NO_DETECTION and ignored_gt[i] == 0:
            fn += 1
        elif valid != NO_DETECTION and (ignored_gt[i] == 1 or ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid != NO_DETECTION:
            tp += 1
            scores.append(dets[det_idx].score)
            if aos:
                deltas.append(g.alpha - dets[det_idx].alpha)
            assigned[det_idx] = True
    similarity = -1.0
    if compute_fp:
        fp = sum(1 for j in range(len(dets)) if not (assigned[j] or ignored_det[j] in (-1, 1) or below[j]))
        stuff = 0
        for dc in dontcare:
            for j, d in enumerate(dets):
                if assigned[j] or ignored_det[j] in (-1, 1) or below[j]:
                    continue
                if _box_overlap(d.box, dc.box, 0) > min_overlap:
                    assigned[j] = True
                    stuff += 1
        fp -= stuff
        if aos and (tp > 0 or fp > 0):
            similarity = float(sum((1.0 + math.cos(x)) / 2.0 for x in deltas))
    return tp, fp, fn, scores, similarity


def _thresholds(scores: list, n_gt: int) -> list:
    scores = sorted(scores, reverse=True)
    out, current = [], 0.0
    for i, s in enumerate(scores):
        l_recall = (i + 1) / n_gt
        r_recall = (i + 2) / n_gt if i < len(scores) - 1 else l_recall
        if (r_recall - current) < (current - l_recall) and i < len(scores) - 1:
            continue
        out.append(s)
        current += 1.0 / (N_SAMPLE_PTS - 1.0)
    return out


def _eval_class(cls, gt_images, det_images, difficulty, aos):
    cleaned, scores, n_gt = [], [], 0
    for gts, dets in zip(gt_images, det_images):
        ig, dc, idet, n = _clean(cls, gts, dets, difficulty)
        n_gt += n
        cleaned.append((ig, dc, idet))
        scores += _statistics(cls, gts, dets, dc, ig, idet, False)[3]
    thresholds = _thresholds(scores, n_gt) if n_gt else []
    precision = np.zeros(N_SAMPLE_PTS)
    orientation = np.zeros(N_SAMPLE_PTS)
    for t, thresh in enumerate(thresholds):
        tp = fp = fn = 0
        sim = 0.0
        for (gts, dets), (ig, dc, idet) in zip(zip(gt_images, det_images), cleaned):
            a, b, c, _, s = _statistics(cls, gts, dets, dc, ig, idet, True, thresh, aos)
            tp, fp, fn = tp + a, fp + b, fn + c
            if s != -1:
                sim += s
        precision[t] = tp / (tp + fp) if tp + fp else 0.0
        orientation[t] = sim / (tp + fp) if tp + fp else 0.0
    for t in range(len(thresholds)):
        precision[t] = precision[t:].max()
        orientation[t] = orientation[t:].max()
    return precision, orientation, n_gt


def kitti_eval(gt_images: list[list], det_images: list[list], classes=("Car", "Pedestrian", "Cyclist"),
               compute_aos: bool | None = None) -> dict:
    """KITTI 2D detection AP and orientation similarity per class and difficulty.

    gt_images / det_images: per image, lists of `writers.kitti.KittiObject` (detections use `score`
    and, for AOS, `alpha`). Returns {class: {"AP2D_R40": {"easy", "moderate", "hard"}, "AOS_R40":
    ..., "AP2D_R11": ..., "AOS_R11": ..., "num_gt": {...}}} with values in percent, like the devkit.
    AOS is computed when every detection has an alpha (not None and not the devkit's -10).
    """
    if len(gt_images) != len(det_images):
        raise ValueError("ground truth and detections must list the same images")
    if any(d.score is None for dets in det_images for d in dets):
        raise ValueError("detections need a score (a KittiObject read from a ground truth line has none)")
    if compute_aos is None:
        compute_aos = all(d.alpha is not None and d.alpha != -10 for dets in det_images for d in dets)
    out = {}
    for name in classes:
        cls = name.lower()
        if cls not in KITTI_MIN_OVERLAP:
            continue
        res = {"AP2D_R40": {}, "AP2D_R11": {}, "num_gt": {}}
        if compute_aos:
            res.update({"AOS_R40": {}, "AOS_R11": {}})
        for d, level in enumerate(DIFFICULTIES):
            precision, orientation, n_gt = _eval_class(cls, gt_images, det_images, d, compute_aos)
            res["AP2D_R40"][level] = float(precision[1:].sum() / 40 * 100)
            res["AP2D_R11"][level] = float(precision[::4].sum() / 11 * 100)
            res["num_gt"][level] = n_gt
            if compute_aos:
                res["AOS_R40"][level] = float(orientation[1:].sum() / 40 * 100)
                res["AOS_R11"][level] = float(orientation[::4].sum() / 11 * 100)
        out[name] = res
    return out


def format_kitti_table(metrics: dict) -> str:
    lines = [f"{'class':<11} {'metric':<9} {'Easy':>7} {'Moderate':>9} {'Hard':>7}"]
    for name, res in metrics.items():
        for key in ("AP2D_R40", "AOS_R40", "AP2D_R11", "AOS_R11"):
            if key in res:
                v = res[key]
                lines.append(f"{name:<11} {key:<9} {v['easy']:7.2f} {v['moderate']:9.2f} {v['hard']:7.2f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ running a model
def build_eval_detector(weights, device: str = "auto", flip: bool = False, scales=None, **kwargs):
    """`Detector.from_checkpoint` with test-time flip / multi-scale (kwargs: input_size, keep_res...)."""
    return Detector.from_checkpoint(weights, device=device, flip=flip, scales=tuple(scales or (1.0,)), **kwargs)


def category_map(detector_classes, data) -> list[int]:
    """Dataset category id for each detector class: by name, else by position when the counts agree."""
    names = {n.lower(): cid for n, cid in zip(data.class_names, data.category_ids)}
    if all(n.lower() in names for n in detector_classes):
        return [names[n.lower()] for n in detector_classes]
    if len(detector_classes) == len(data.class_names):
        return list(data.category_ids)
    raise ConfigError(f"the model's {len(detector_classes)} classes ({', '.join(detector_classes[:3])}...) do not "
                      f"match the data's {len(data.class_names)} ({', '.join(data.class_names[:3])}...)")


def detections_to_rows(dets, image_id: int, category_ids: list[int]) -> list[dict]:
    """COCO result rows with the dataset's own category ids."""
    rows = result_rows(dets, image_id, tuple(f"c{i}" for i in range(len(category_ids))))
    labels = dets.labels.tolist()
    for row, label in zip(rows, labels):
        row["category_id"] = int(category_ids[int(label)])
    return rows


def _call_detector(detector, sample):
    """Detections of one sample; ddd gets the sample's own camera (KITTI P2)."""
    return detector(sample.load_image(), sample.calib)


def evaluate(detector, data, max_images: int | None = None, progress: Progress = no_progress) -> dict:
    """Run `detector` over `data` and compute the metrics of its task.

    Returns {"task", "images", "bbox": {...}} for ctdet; plus "keypoints" for multi_pose; "kitti"
    for ddd; and "rows" (COCO results) or "kitti_results" (per image objects) for saving.
    """
    data = data.subset(max_images)
    samples = data.samples
    iterator = counted(samples, progress, Task("eval", len(samples), "img", nested=True))
    out: dict = {"task": data.task, "images": len(samples)}
    if data.task == "ddd":
        gts, results = [], []
        for sample in iterator:
            gts.append(sample.meta.get("kitti", []))
            results.append(kitti_objects(_call_detector(detector, sample), detector.class_names))
        out["kitti"] = kitti_eval(gts, results, data.class_names)
        out["kitti_results"] = results
        return out
    cat_ids = category_map(detector.class_names, data)
    rows = []
    for sample in iterator:
        rows += detections_to_rows(_call_detector(detector, sample), sample.image_id, cat_ids)
    ids = [s.image_id for s in samples]
    out["bbox"] = coco_box_ap(data.coco_gt, rows, ids)
    if data.task == "multi_pose":
        out["keypoints"] = coco_keypoint_ap(data.coco_gt, rows, ids)
    out["rows"] = rows
    return out


def format_report(result: dict) -> str:
    """The standard tables for an `evaluate` result."""
    parts = []
    if "bbox" in result:
        parts += ["bbox", format_coco_table(result["bbox"], "bbox")]
    if "keypoints" in result:
        parts += ["keypoints", format_coco_table(result["keypoints"], "keypoints")]
    if "kitti" in result:
        parts += ["KITTI 2D (percent)", format_kitti_table(result["kitti"])]
    return "\n".join(parts)


def metrics_only(result: dict) -> dict:
    """The JSON-able metrics of an `evaluate` result (detections left out)."""
    return {k: v for k, v in result.items() if k not in ("rows", "kitti_results")}


@dataclass(frozen=True)
class EvalOptions:
    """`main.py eval`: a checkpoint, the data to evaluate it on, how to run it and where to write."""

    weights: str | Path
    data: str | Path                          # COCO folder or annotation .json; KITTI folder for ddd
    flip: bool = False                        # flip test-time augmentation
    scales: tuple[float, ...] | None = None   # multi-scale test (None: 1 only)
    max_images: int | None = None
    out: Path | None = None                   # the metrics JSON
    detections_out: Path | None = None        # the detections (COCO results / KITTI lines)
    device: str = "auto"
    input_size: tuple[int, int] | None = None
    keep_res: bool = False


def run_eval(options: EvalOptions, progress: Progress = no_progress, say=lambda line: None) -> dict:
    """`main.py eval`: load a checkpoint, evaluate it on `data`, report the tables (`say`), save the JSON."""
    o = options
    check_max_images(o.max_images)   # before the model loads
    weights, data, flip, scales, out, detections_out = o.weights, o.data, o.flip, o.scales, o.out, o.detections_out
    kwargs = {"keep_res": o.keep_res}
    if o.input_size is not None:
        kwargs["input_size"] = tuple(o.input_size)
    detector = build_eval_detector(weights, o.device, flip, scales, **kwargs)
    dataset = load_dataset(data, detector.task, "val")
    result = evaluate(detector, dataset, o.max_images, progress=progress)
    say(f"{detector.info.describe()} on {dataset.name}: {result['images']} images"
        f"{', flip' if flip else ''}{', scales ' + ','.join(map(str, scales)) if scales else ''}")
    say(format_report(result))
    metrics = metrics_only(result)
    metrics.update(weights=str(weights), data=str(data), flip=bool(flip), scales=list(scales or [1.0]))
    if out is not None:
        _write_json(metrics, Path(out))
        say(f"wrote metrics to {out}")
    if detections_out is not None:
        if "rows" in result:
            _write_json(result["rows"], Path(detections_out))
        else:
            _write_json([[o.line() for o in objs] for objs in result["kitti_results"]], Path(detections_out))
        say(f"wrote detections to {detections_out}")
    return metrics


def _write_json(obj, path: Path) -> None:
    write_json_atomic(path, obj, indent=1)

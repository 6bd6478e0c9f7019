"""Agreement (COCO AP of a configuration against its weights' most expensive configuration, whose
detections scoring >= 0.3 serve as ground truth) and the Pareto-optimal configurations."""
from __future__ import annotations

from centernet.evaluation.metrics import coco_box_ap, coco_keypoint_ap
from centernet.jobs.explore.images import ImageSet
from centernet.jobs.explore.outcome import Outcome
from centernet.jobs.explore.pareto import pareto_front

AGREEMENT_THRESHOLD = 0.3


def reference_ground_truth(reference_rows: list[dict], sizes, category_ids, keypoints: bool = False,
                           threshold: float = AGREEMENT_THRESHOLD) -> dict:
    """COCO ground truth made of the reference's detections scoring >= threshold."""
    anns = []
    for r in reference_rows:
        if r["score"] < threshold:
            continue
        x, y, w, h = r["bbox"]
        ann = {"id": len(anns) + 1, "image_id": r["image_id"], "category_id": r["category_id"], "bbox": [x, y, w, h],
               "area": float(w * h), "iscrowd": 0}
        if keypoints and r.get("keypoints"):
            kps = list(r["keypoints"])
            for j in range(2, len(kps), 3):
                kps[j] = 2  # every joint labelled and visible
            ann["keypoints"] = kps
            ann["num_keypoints"] = len(kps) // 3
        anns.append(ann)
    cats = [{"id": int(c), "name": str(c), "supercategory": "object"} for c in sorted(set(category_ids))]
    if keypoints:
        n = max((a["num_keypoints"] for a in anns if "num_keypoints" in a), default=17)
        for c in cats:
            c["keypoints"] = [f"joint{j}" for j in range(n)]
            c["skeleton"] = []
    return {"images": [{"id": int(i), "width": int(w), "height": int(h)} for i, w, h in sizes],
            "annotations": anns, "categories": cats}


def agreement_ap(reference_rows: list[dict], rows: list[dict], sizes, category_ids, keypoints: bool = False,
                 threshold: float = AGREEMENT_THRESHOLD) -> float | None:
    """COCO AP (box, or keypoint OKS) of `rows` against the reference's detections >= threshold;
    None when the reference has no such detection."""
    gt = reference_ground_truth(reference_rows, sizes, category_ids, keypoints, threshold)
    if not gt["annotations"]:
        return None
    ids = [int(i) for i, _, _ in sizes]
    metrics = coco_keypoint_ap(gt, rows, ids) if keypoints else coco_box_ap(gt, rows, ids)
    return round(max(0.0, float(metrics["AP"])), 6)


def add_agreement(outcomes: list[Outcome], images: ImageSet) -> None:
    """Agreement of every configuration with the most expensive configuration of the same weights."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.status == "ok":
            groups.setdefault(o.config.model.weights_id, []).append(o)
    sizes = images.sizes()
    for group in groups.values():
        ref = max(group, key=lambda o: o.config.reference_rank())
        cats = sorted({r["category_id"] for o in group for r in o.rows}) or [1]
        keypoints = ref.config.model.task == "multi_pose" and any(r.get("keypoints") for r in ref.rows)
        for o in group:
            o.reference = ref.config.short()
            o.agreement = agreement_ap(ref.rows, o.rows, sizes, cats, keypoints)
            if o.agreement is None:
                note = f"no agreement: the reference has no detection scoring >= {AGREEMENT_THRESHOLD}"
                o.gt_note = f"{o.gt_note}; {note}" if o.gt_note else note


def mark_pareto(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    """Pareto-optimal configurations, marked and returned per front.

    Configurations judged by AP against ground truth share one front per kind ("box AP", "keypoint
    AP"): that is where models compete. Agreement is relative to each weights' own reference, so
    configurations judged by agreement get one front per weights ("agreement: <model>").
    """
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        kind, value = o.metric
        if o.status == "ok" and value is not None and o.fps:
            key = kind if kind != "agreement" else f"agreement: {o.config.model.name}"
            groups.setdefault(key, []).append(o)
    fronts: dict[str, list[Outcome]] = {}
    for key in sorted(groups, key=lambda k: (k.startswith("agreement"), k)):
        group = groups[key]
        fronts[key] = [group[i] for i in pareto_front([(o.fps, o.metric[1]) for o in group])]
        for o in fronts[key]:
            o.pareto = True
    return fronts


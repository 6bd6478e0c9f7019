"""Measuring one configuration: its Detector on every image (one per call, as live video), the latency
per stage, the COCO result rows and AP against ground truth where the data has it."""
from __future__ import annotations

import time

import torch

from centernet.errors import CenterNetError, ConfigError
from centernet.evaluation.metrics import category_map, coco_box_ap, coco_keypoint_ap, detections_to_rows
from centernet.evaluation.track_faults import track_rows
from centernet.evaluation.tracking import score_tracks
from centernet.tracking import make_tracker
from centernet.tracking.retrack import retrack
from centernet.jobs.annotate.plan import AnnotateOptions
from centernet.inference.detector import Detector
from centernet.inference.backends.eager import PLAIN
from centernet.inference.backends.torch_engine import EAGER, prepare_model
from centernet.jobs.bench_timing import StageStats
from centernet.jobs.explore.grid import Config
from centernet.jobs.explore.images import ImageSet
from centernet.jobs.explore.models import ModelSource, load_source
from centernet.jobs.explore.outcome import BOX_KEYS, KEYPOINT_KEYS, Outcome


class Unsupported(Exception):
    """A configuration this build or this device cannot run (recorded as skipped)."""


def tta_kwargs(cfg: Config) -> dict:
    """The Detector's test-time augmentation arguments for a configuration."""
    return {"flip": cfg.flip, "scales": tuple(cfg.scales)}


class ModelPool:
    """The loaded model of the current source and its prepared (BN-folded, cast) copies per precision."""

    def __init__(self, device: torch.device):
        self.device = device
        self.key = None
        self.base = self.info = self.error = None
        self.prepared: dict = {}

    def get(self, src: ModelSource):
        if self.key != src.weights_id:
            self.release()
            self.key = src.weights_id
            try:
                self.base, self.info = load_source(src)
            except CenterNetError as e:
                self.error = str(e)
        if self.error:
            raise CenterNetError(self.error)
        return self.base, self.info

    def prepared_model(self, src: ModelSource, precision: str):
        base, _ = self.get(src)
        if precision not in self.prepared:
            self.prepared[precision] = prepare_model(base, self.device, precision)
        return self.prepared[precision]

    def release(self):
        self.key = self.base = self.info = self.error = None
        self.prepared = {}
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def stage_summary(samples: list[dict]) -> tuple[dict, float]:
    stats = StageStats()
    for t in samples:
        stats.add(t)
    return stats.summary(), round(stats.fps, 3)


def run_detector(cfg: Config, pool: ModelPool, images: ImageSet, warmup: int) -> tuple[list, list]:
    """One image per call (as live video) through the Detector with the configuration's engine.

    eager: the pool's prepared copy (BN folded, channels_last, cast) run as is; graph and
    onnxruntime: the Detector builds its engine from the loaded model. Images go in order of size
    and each new size is warmed up untimed first (a larger frame may grow the graph's canvas: a capture).
    """
    base, info = pool.get(cfg.model)
    try:
        if cfg.engine == EAGER:  # the pool's prepared copy, shared by the configurations, run as it is
            det = Detector(pool.prepared_model(cfg.model, cfg.precision), info, pool.device, engine=PLAIN,
                           input_size=cfg.input_size, **tta_kwargs(cfg))
        else:
            det = Detector(base, info, pool.device, engine=cfg.engine, precision=cfg.precision,
                           input_size=cfg.input_size, **tta_kwargs(cfg))
    except ConfigError as e:  # e.g. flip for a model that decodes its own way
        raise Unsupported(str(e)) from None
    order = sorted(range(len(images.images)), key=images.shape)
    dets, times, seen = [None] * len(order), [None] * len(order), set()
    for i in order:
        img = images.images[i]
        if not seen or (det.uses_graph and img.shape not in seen):  # a larger size may grow the canvas: a capture
            for _ in range(max(1, warmup)):
                det(img)
            seen.add(img.shape)
        d = det(img)
        dets[i], times[i] = d, dict(d.timings)
    return dets, times


def category_ids_of(info, images: ImageSet) -> tuple[list[int], str]:
    """The data's category id per model class (for AP against ground truth), else 1..N."""
    gt = images.gt.get(info.task)
    if gt is None:
        return list(range(1, len(info.class_names) + 1)), ""
    try:
        return category_map(info.class_names, gt), ""
    except ConfigError as e:
        return list(range(1, len(info.class_names) + 1)), str(e)


def run_config(cfg: Config, pool: ModelPool, images: ImageSet, warmup: int) -> Outcome:
    """Run one configuration on every image: timings, result rows and AP against ground truth."""
    dets, times = run_detector(cfg, pool, images, warmup)
    _, info = pool.get(cfg.model)
    cat_ids, mismatch = category_ids_of(info, images)
    rows = []
    for d, image_id in zip(dets, images.image_ids):
        rows += detections_to_rows(d, image_id, cat_ids)
    stages, fps = stage_summary(times)
    out = Outcome(cfg, "ok", stages=stages, fps=fps, rows=rows, images=len(images.images),
                  measured=time.strftime("%Y-%m-%d %H:%M"))
    gt = images.gt.get(cfg.model.task)
    if not cfg.model.real:
        out.gt_note = "random weights: agreement only"
    elif images.track_gt is not None:
        out.tracking, out.gt_note = tracking_scores(dets, info.class_names, images.track_gt)
    elif gt is None:
        out.gt_note = f"no {cfg.model.task} ground truth: agreement only"
    elif mismatch:
        out.gt_note = mismatch
    else:
        ids = sorted({s.image_id for s in gt.samples})
        out.box = _clean(coco_box_ap(gt.coco_gt, rows, ids), BOX_KEYS)
        if cfg.model.task == "multi_pose":
            out.keypoints = _clean(coco_keypoint_ap(gt.coco_gt, rows, ids), KEYPOINT_KEYS)
    return out


TRACKED_CLASS = "person"   # what MOTChallenge ground truth follows


def tracking_scores(dets: list, class_names, track_gt) -> tuple[dict | None, str]:
    """(HOTA, IDF1, MOTA, ID switches of the default tracker on these frames' detections, note), as `annotate
    --track` would track them: people only, annotate's default threshold."""
    if TRACKED_CLASS not in class_names:
        return None, f"no {TRACKED_CLASS} class to compare with the sequence's tracks: agreement only"
    person = {list(class_names).index(TRACKED_CLASS)}
    threshold = AnnotateOptions().threshold
    frames = [(n, d.only_labels(person).above(threshold)) for n, d in enumerate(dets, 1)]
    scores = score_tracks(track_gt, track_rows(retrack(frames, make_tracker())))
    return {"HOTA": round(scores.hota, 6), "IDF1": round(scores.idf1, 6), "MOTA": round(scores.mota, 6),
            "IDsw": scores.id_switches}, ""


def _clean(metrics: dict, keys) -> dict:
    """pycocotools' -1 (no ground truth in that area range) becomes None."""
    return {k: (None if metrics.get(k) is None or metrics[k] < 0 else round(float(metrics[k]), 6)) for k in keys}


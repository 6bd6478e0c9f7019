"""The result cache of a sweep: one JSON file per configuration, so a larger grid only runs what is new."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from centernet.io.writers.atomic import write_json_atomic
from centernet.jobs.explore.grid import Config
from centernet.jobs.explore.images import ImageSet
from centernet.jobs.explore.outcome import Outcome

CACHE_VERSION = 1


class ResultCache:
    """One JSON file per configuration under `folder`, named by a hash of everything that decides it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @staticmethod
    def key(cfg: Config, device: str, images: ImageSet, warmup: int) -> str:
        ident = {"v": CACHE_VERSION, "weights": cfg.model.weights_id, "task": cfg.model.task,
                 "input": list(cfg.input_size), "precision": cfg.precision, "flip": cfg.flip,
                 "scales": list(cfg.scales), "engine": cfg.engine, "device": device, "images": images.fingerprint,
                 "warmup": warmup, "torch": torch.__version__}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]

    def get(self, key: str, cfg: Config) -> Outcome | None:
        path = self.folder / f"{key}.json"
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if d.get("status") != "ok":
            return None
        return Outcome(cfg, "ok", stages=d["stages"], fps=d["fps"], box=d.get("box"), keypoints=d.get("keypoints"),
                       tracking=d.get("tracking"), gt_note=d.get("gt_note", ""), rows=d.get("rows", []), images=d.get("images", 0),
                       cached=True, measured=d.get("measured", ""))

    def put(self, key: str, o: Outcome) -> None:
        d = {"config": o.config.label(), "status": o.status, "stages": o.stages, "fps": o.fps, "box": o.box,
             "keypoints": o.keypoints, "tracking": o.tracking, "gt_note": o.gt_note, "images": o.images, "measured": o.measured,
             "rows": o.rows}
        write_json_atomic(self.folder / f"{key}.json", d)


"""What a sweep gives: one `Outcome` per configuration, and the `ExploreReport` over all of them."""
from __future__ import annotations

from dataclasses import dataclass, field

from centernet.inference.backends.torch_engine import GRAPH
from centernet.jobs.explore.grid import Config
from centernet.jobs.explore.images import ImageSet

BOX_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
KEYPOINT_KEYS = ("AP", "AP50", "AP75", "APm", "APl")
STAGE_ORDER = ("pre", "net", "decode", "post", GRAPH)   # graph: the whole frame path of the graph backend


TRACK_KEYS = ("HOTA", "IDF1", "MOTA", "IDsw")


@dataclass
class Outcome:
    """What one configuration gave."""

    config: Config
    status: str                         # "ok", "skipped" or "failed"
    reason: str = ""
    stages: dict = field(default_factory=dict)   # stage -> {"median", "p90", "p99"} in ms; "total" included
    fps: float | None = None
    box: dict | None = None             # box AP etc. against ground truth (fractions; None where undefined)
    keypoints: dict | None = None       # keypoint AP etc. against ground truth
    tracking: dict | None = None        # HOTA, IDF1, MOTA, ID switches against ground-truth tracks
    gt_note: str = ""
    agreement: float | None = None
    reference: str = ""
    rows: list = field(default_factory=list, repr=False)   # COCO result rows (cache, agreement)
    images: int = 0
    cached: bool = False
    pareto: bool = False
    measured: str = ""

    @property
    def metric(self) -> tuple[str, float | None]:
        """The accuracy this configuration is judged by: ("box AP" | "keypoint AP" | "agreement", value)."""
        if self.keypoints is not None:
            return "keypoint AP", self.keypoints.get("AP")
        if self.box is not None:
            return "box AP", self.box.get("AP")
        if self.tracking is not None:
            return "HOTA", self.tracking.get("HOTA")
        return "agreement", self.agreement

    def to_dict(self) -> dict:
        c = self.config
        kind, value = self.metric
        return {"model": c.model.name, "arch": c.model.arch, "task": c.model.task, "weights": c.model.origin,
                "weights_path": str(c.model.path) if c.model.path else None, "weights_id": c.model.weights_id,
                "input_size": list(c.input_size), "precision": c.precision, "flip": c.flip,
                "scales": list(c.scales), "engine": c.engine, "status": self.status, "reason": self.reason,
                "fps": self.fps, "stages": self.stages, "images": self.images, "box": self.box,
                "keypoints": self.keypoints, "tracking": self.tracking, "gt_note": self.gt_note, "agreement": self.agreement,
                "agreement_reference": self.reference, "metric": kind, "accuracy": value,
                "pareto": self.pareto, "cached": self.cached, "measured": self.measured}


@dataclass
class ExploreReport:
    outcomes: list
    fronts: dict
    counts: dict
    files: dict
    device: str
    images: ImageSet


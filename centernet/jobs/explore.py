"""`explore`: find the fastest configuration that is accurate enough.

Every configuration of a grid (model x input size x precision x flip x test scales x engine) runs
on the same images. For each one it records the latency per stage (median, p90, p99 after warm-up)
and its accuracy:

- **AP against ground truth** (pycocotools; box AP for ctdet, keypoint AP for multi_pose) when the
  data has annotations and the weights are real;
- **agreement**: COCO AP of the configuration against the reference configuration of the same
  weights (the most expensive one that ran: largest input, every scale, flip, fp32, eager), whose
  detections scoring >= 0.3 serve as ground truth. It shows what fp16, a smaller input or dropping
  flip costs, with no annotations and even with random weights.

    grid = ExploreGrid(archs=("res_18",), res=(384, 512), flip=(False, True))
    report = explore(grid, Path("explore"), data="coco_mini")

Results are cached per configuration under `out/cache/` (keyed by the weights' sha256, the
configuration, the device and the images), so re-running with a larger grid only runs what is new.
A configuration that cannot run here is "skipped" with the reason (fp16 on a CPU); one that fails
(out of memory, weights that do not load) is "failed" with the reason, and the sweep goes on.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from centernet.errors import CenterNetError, ConfigError, InputError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "bf16")
ENGINES = ("eager", "graph", "onnxruntime")
PRECISION_RANK = {"fp32": 2, "fp16": 1, "bf16": 0}  # fewer mantissa bits rank lower
AGREEMENT_THRESHOLD = 0.3
CACHE_VERSION = 1
RANDOM_WEIGHTS_VERSION = 1
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
DEFAULT_FRAMES = 16  # frames of the demo clip or a video when no --max-images is given

# The original paper's headline numbers (Zhou et al., "Objects as Points", Titan Xp, COCO test-dev)
PAPER_NAME = "paper (Titan Xp)"
PAPER_POINTS = (("ResDCN-18", 142.0, 28.1), ("DLA-34", 52.0, 37.4), ("Hourglass-104 multi-scale", 1.4, 45.1))

BOX_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
KEYPOINT_KEYS = ("AP", "AP50", "AP75", "APm", "APl")
STAGE_ORDER = ("pre", "net", "decode", "post", "graph")


# ------------------------------------------------------------------------------------ the grid
@dataclass(frozen=True)
class ExploreGrid:
    """The values to sweep. `res` None means each model's own input size; `archs` None means every
    file of the weights folder (and no random-weight archs)."""

    archs: tuple | None = None
    res: tuple = (None,)
    precision: tuple = ("fp32",)
    flip: tuple = (False,)
    scales: tuple = ((1.0,),)
    engine: tuple = ("eager",)

    def __post_init__(self):
        for p in self.precision:
            if p not in PRECISIONS:
                raise ConfigError(f"unknown precision {p!r}: use {', '.join(PRECISIONS)}")
        for e in self.engine:
            if e not in ENGINES:
                raise ConfigError(f"unknown engine {e!r}: use {', '.join(ENGINES)}")
        for r in self.res:
            if r is not None and (int(r) < 32 or int(r) % 32):
                raise ConfigError(f"bad input size {r}: use multiples of 32, at least 32")
        for s in self.scales:
            if not s or any(not (0.05 <= float(v) <= 8.0) for v in s):
                raise ConfigError(f"bad test scales {s!r}: give positive factors such as 0.5,0.75,1,1.25,1.5")
        if self.archs is not None:
            from centernet.models.build import available_archs
            known = available_archs()
            for a in self.archs:
                if a not in known:
                    raise ConfigError(f"unknown arch {a!r}: use one of {', '.join(known)}")


@dataclass(frozen=True)
class ModelSource:
    """One set of weights in the sweep: a file (real weights) or an arch with seeded random weights."""

    name: str
    arch: str
    task: str
    input_size: tuple
    path: Path | None = None        # None: seeded random weights
    weights_id: str = ""            # sha256 of the file, or "random:..."
    origin: str = "weights dir"     # "default model", "weights dir" or "random weights"
    error: str | None = None        # a file that cannot be used, with the reason

    @property
    def real(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    model: ModelSource
    input_size: tuple
    precision: str = "fp32"
    flip: bool = False
    scales: tuple = (1.0,)
    engine: str = "eager"

    @property
    def multi_scale(self) -> bool:
        return tuple(self.scales) != (1.0,)

    @property
    def cost(self) -> float:
        """Relative compute: pixels x scales^2 x flip (used to pick the reference configuration)."""
        h, w = self.input_size
        return h * w * sum(s * s for s in self.scales) * (2 if self.flip else 1)

    def reference_rank(self) -> tuple:
        return (self.cost, PRECISION_RANK[self.precision], self.engine == "eager")

    def short(self) -> str:
        """The configuration without the model, defaults left out: '512 fp16 flip ms5 graph'."""
        parts = [size_text(self.input_size)]
        if self.precision != "fp32":
            parts.append(self.precision)
        if self.flip:
            parts.append("flip")
        if self.multi_scale:
            parts.append(f"ms{len(self.scales)}" if len(self.scales) > 1 else f"x{self.scales[0]:g}")
        if self.engine != "eager":
            parts.append(self.engine)
        return " ".join(parts)

    def label(self) -> str:
        return f"{self.model.name} {size_text(self.input_size)} {self.precision} flip {'on' if self.flip else 'off'} " \
               f"scales {scales_text(self.scales)} {self.engine}"


def size_text(size) -> str:
    if not size:
        return "-"
    h, w = size
    return str(h) if h == w else f"{h}x{w}"


def scales_text(scales) -> str:
    return ",".join(f"{s:g}" for s in scales)


def grid_configs(grid: ExploreGrid, sources: list[ModelSource]) -> list[Config]:
    """Every configuration, grouped by model; duplicates (same effective input size) dropped."""
    out, seen = [], set()
    for src in sources:
        if src.error:
            continue
        for res in grid.res:
            size = (int(res), int(res)) if res is not None else tuple(src.input_size)
            for precision in grid.precision:
                for flip in grid.flip:
                    for scales in grid.scales:
                        for engine in grid.engine:
                            cfg = Config(src, size, precision, bool(flip), tuple(float(s) for s in scales), engine)
                            key = (src.weights_id, src.name, cfg.label())
                            if key not in seen:
                                seen.add(key)
                                out.append(cfg)
    return out


# ------------------------------------------------------------------------------------ the models
def find_models(weights_dir: Path | None = None, archs: tuple | None = None, defaults: bool = True,
                say: Callable = print) -> list[ModelSource]:
    """The weights of a sweep: shipped default models, files of `weights_dir` (arch and task read
    from each file, as `weights inspect` does), and seeded random weights for `archs` no file has."""
    from centernet.models.zoo import DEFAULT_MODELS
    sources: list[ModelSource] = []
    if defaults:
        for task, path in DEFAULT_MODELS.items():
            if not Path(path).exists():
                sources.append(ModelSource(Path(path).stem, "-", task, (), Path(path), origin="default model",
                                           error=f"default model missing: {path} (see assets/models/PROVENANCE.md)"))
            else:
                sources.append(_inspect_source(Path(path), "default model"))
    if weights_dir is not None:
        folder = Path(weights_dir)
        if not folder.is_dir():
            raise InputError(f"--weights-dir {folder} is not a folder: give the folder holding .pth files")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES))
        if not files:
            say(f"note: no weight files ({', '.join(WEIGHT_SUFFIXES)}) in {folder}")
        for path in files:
            src = _inspect_source(path, "weights dir")
            if archs is not None and not src.error and src.arch not in archs:
                say(f"note: {path.name} ({src.task} {src.arch}) left out: its arch is not in --archs")
                continue
            sources.append(src)
    # the same file twice (a default model copied into the folder) runs once
    unique, ids = [], set()
    for s in sources:
        if s.error or s.weights_id not in ids:
            unique.append(s)
            ids.add(s.weights_id)
    with_weights = {s.arch for s in unique if not s.error}
    for arch in archs or ():
        if arch not in with_weights:
            unique.append(random_source(arch))
    if not unique:
        raise ConfigError("nothing to explore: give --weights-dir, --archs, or keep the default models")
    return unique


def _inspect_source(path: Path, origin: str) -> ModelSource:
    from centernet.models.inspection import inspect_file
    try:
        rep = inspect_file(path)
    except CenterNetError as e:
        return ModelSource(path.stem, "-", "-", (), path, origin=origin, error=str(e))
    if not rep.loads:
        return ModelSource(path.stem, rep.arch or "-", rep.task or "-", tuple(rep.input_size or ()), path,
                           rep.sha256 or "", origin, error=f"does not load: {rep.error}")
    return ModelSource(path.stem, rep.arch, rep.task, tuple(rep.input_size), path, rep.sha256, origin)


def random_source(arch: str, task: str = "ctdet", seed: int = 0) -> ModelSource:
    from centernet.models.checkpoint import original_preprocess
    return ModelSource(f"{arch} (random weights)", arch, task, tuple(original_preprocess(task, arch).input_size), None,
                       f"random:v{RANDOM_WEIGHTS_VERSION}:{arch}:{task}:seed{seed}", "random weights")


def random_model(arch: str, task: str = "ctdet", seed: int = 0):
    """An arch with seeded random weights whose outputs look like detections (for agreement only).

    A freshly built model predicts the heatmap prior everywhere (all scores 0.1) and zero sizes, which
    leaves nothing to compare. The last conv of each head is drawn at random and rescaled so that,
    on a seeded noise image, heatmap logits are the prior +- 1, sizes 8 +- 2 cells and offsets 0.5 +- 0.1.
    """
    from centernet.models.checkpoint import info_for_original
    from centernet.models.build import build_model
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model(arch, task).eval()
    targets = {"hm": (-2.19, 1.0), "wh": (8.0, 2.0), "reg": (0.5, 0.1)}
    finals = {}
    for name, module in model.named_modules():
        head = name.split(".")[0]
        if head in targets and isinstance(module, torch.nn.Conv2d):
            finals.setdefault(head, []).append(module)
    x = torch.randn(1, 3, 128, 128, generator=gen)
    with torch.no_grad():
        for convs in finals.values():
            for conv in convs:
                if conv.out_channels <= 80 and conv.kernel_size == (1, 1):
                    fan = conv.in_channels
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / fan))
        out = model(x)
        for head, (mean, std) in targets.items():
            if head not in out or head not in finals:
                continue
            z = out[head].float()
            mu, s = float(z.mean()), float(z.std()) or 1.0
            for conv in finals[head]:
                if conv.kernel_size != (1, 1):
                    continue
                conv.weight.mul_(std / s)
                if conv.bias is not None:
                    conv.bias.copy_((conv.bias - mu) * (std / s) + mean)
    info = info_for_original(model.state_dict(), arch, task)
    return model, info


def load_source(src: ModelSource):
    if src.path is None:
        return random_model(src.arch, src.task)
    from centernet.models.checkpoint import load_checkpoint
    return load_checkpoint(src.path)


# ------------------------------------------------------------------------------------ the images
@dataclass
class ImageSet:
    """The images every configuration runs on, and the ground truth per task where the data has it."""

    name: str
    images: list
    image_ids: list
    gt: dict = field(default_factory=dict)      # task -> DetectionSet (with coco_gt)
    notes: list = field(default_factory=list)
    fingerprint: str = ""

    def sizes(self) -> list[tuple[int, int, int]]:
        """(image id, width, height) per image."""
        return [(i, img.shape[1], img.shape[0]) for i, img in zip(self.image_ids, self.images)]


def load_images(data, tasks, max_images: int | None = None) -> ImageSet:
    """`--data`: a COCO folder or annotation file (with ground truth), an image folder, a video, or
    nothing (frames of the demo clip). Only the first `max_images` are used."""
    tasks = [t for t in ("ctdet", "multi_pose") if t in set(tasks)] or ["ctdet"]
    if data is None:
        from centernet.models.zoo import ASSETS
        clip = ASSETS / "demo" / "bikes.mp4"
        if not clip.exists():
            raise InputError(f"no --data given and the demo clip {clip} is missing: give --data")
        frames = _video_frames(clip, max_images or DEFAULT_FRAMES)
        return _finish(ImageSet(f"{len(frames)} frames of the demo clip", frames, list(range(1, len(frames) + 1)),
                                notes=["no --data: agreement only, on frames of the demo clip"]))
    path = Path(data)
    if not path.exists():
        raise InputError(f"--data {path} does not exist: give a COCO folder or annotation .json, an image "
                         f"folder or a video")
    from centernet.io.sources import VIDEO_EXTENSIONS, images_in_folder, read_image
    if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
        frames = _video_frames(path, max_images or DEFAULT_FRAMES)
        return _finish(ImageSet(f"{len(frames)} frames of {path.name}", frames, list(range(1, len(frames) + 1)),
                                notes=[f"{path.name} has no ground truth: agreement only"]))
    from centernet.data import load_dataset
    sets, notes = {}, []
    for task in tasks:
        try:
            sets[task] = load_dataset(path, task, "val")
        except CenterNetError as e:
            notes.append(f"no {task} ground truth in {path} ({e}): {task} models are measured by agreement")
    if not sets:
        if path.is_dir():
            files = images_in_folder(path)[: max_images or None]
            from centernet.inference.transforms import as_bgr_uint8
            images = [as_bgr_uint8(read_image(p)) for p in files]
            return _finish(ImageSet(f"{path.name} ({len(images)} images)", images, list(range(1, len(images) + 1)),
                                    notes=[f"{path} has no annotations: agreement only"]))
        raise InputError(f"--data {path}: no usable annotations ({'; '.join(notes)})")
    base = next(iter(sets.values())).subset(max_images)
    images = [s.load_image() for s in base.samples]
    ids = [s.image_id for s in base.samples]
    gt = {}
    for task, ds in sets.items():
        inside = {s.image_id for s in ds.samples} & set(ids)
        if not inside:
            notes.append(f"the {task} annotations cover none of the images: {task} models are measured by agreement")
            continue
        gt[task] = _restrict(ds, inside)
    return _finish(ImageSet(f"{path.name} ({len(images)} images)", images, ids, gt, notes))


def _restrict(ds, ids: set):
    from centernet.data.samples import DetectionSet
    samples = [s for s in ds.samples if s.image_id in ids]
    coco = {**ds.coco_gt, "images": [i for i in ds.coco_gt["images"] if i["id"] in ids],
            "annotations": [a for a in ds.coco_gt["annotations"] if a["image_id"] in ids]}
    return DetectionSet(ds.name, ds.task, samples, ds.class_names, ds.category_ids, coco, ds.num_joints)


def _video_frames(path: Path, count: int) -> list:
    """`count` frames spread evenly over a video; an error when none can be read."""
    from centernet.io.sources import frames_spread_over
    frames = frames_spread_over(path, count)
    if not frames:
        raise InputError(f"cannot read frames from {path}: not a video OpenCV can decode")
    return frames


def _finish(images: ImageSet) -> ImageSet:
    h = hashlib.sha256()
    for i, img in zip(images.image_ids, images.images):
        h.update(f"{i}:{img.shape}".encode())
        h.update(np.ascontiguousarray(img).data)
    for task in sorted(images.gt):
        anns = sorted(images.gt[task].coco_gt["annotations"], key=lambda a: (a["image_id"], a.get("id", 0)))
        h.update(task.encode())
        h.update(json.dumps(anns, sort_keys=True, default=str).encode())
    images.fingerprint = h.hexdigest()[:20]
    return images


# ------------------------------------------------------------------------------------ running
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
        return "agreement", self.agreement

    def to_dict(self) -> dict:
        c = self.config
        kind, value = self.metric
        return {"model": c.model.name, "arch": c.model.arch, "task": c.model.task, "weights": c.model.origin,
                "weights_path": str(c.model.path) if c.model.path else None, "weights_id": c.model.weights_id,
                "input_size": list(c.input_size), "precision": c.precision, "flip": c.flip,
                "scales": list(c.scales), "engine": c.engine, "status": self.status, "reason": self.reason,
                "fps": self.fps, "stages": self.stages, "images": self.images, "box": self.box,
                "keypoints": self.keypoints, "gt_note": self.gt_note, "agreement": self.agreement,
                "agreement_reference": self.reference, "metric": kind, "accuracy": value,
                "pareto": self.pareto, "cached": self.cached, "measured": self.measured}


class Unsupported(Exception):
    """A configuration this build or this device cannot run (recorded as skipped)."""


def skip_reason(cfg: Config, device: torch.device) -> str:
    """Why a configuration cannot run here, or "" when it can."""
    from centernet.inference.detector import Detector
    task = cfg.model.task
    if cfg.precision == "fp16" and device.type != "cuda":
        return "fp16 needs a CUDA GPU (this run is on the CPU)"
    if cfg.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "bf16 is not supported by this GPU"
    if cfg.engine == "graph":
        if device.type != "cuda":
            return "the graph engine needs a CUDA GPU (this run is on the CPU)"
        if task not in ("ctdet", "multi_pose", "ddd"):
            return f"the graph engine serves ctdet, multi_pose and ddd models, not {task}"
        if cfg.multi_scale:
            return "the graph engine runs one scale (multi-scale testing runs eager)"
        return ""
    if cfg.engine == "onnxruntime":
        from centernet.inference.onnx_export import onnx_runtime_available
        if device.type != "cpu":
            return "the onnxruntime engine runs on the CPU (use --device cpu)"
        if cfg.precision != "fp32":
            return "the onnxruntime engine runs fp32"
        if cfg.multi_scale:
            return "the onnxruntime engine runs one input size (no multi-scale)"
        if not onnx_runtime_available():
            return "the onnx extras are not installed (pip install -e .[onnx])"
    params = inspect.signature(Detector.__init__).parameters
    if cfg.flip and "flip" not in params:
        return "flip testing is not supported by this version of the Detector"
    if cfg.multi_scale and not any(k in params for k in ("scales", "test_scales")):
        return "multi-scale testing is not supported by this version of the Detector"
    return ""


def tta_kwargs(cfg: Config) -> dict:
    from centernet.inference.detector import Detector
    params = inspect.signature(Detector.__init__).parameters
    kwargs = {}
    if cfg.flip:
        kwargs["flip"] = True
    if cfg.multi_scale:
        kwargs[next(k for k in ("scales", "test_scales") if k in params)] = tuple(cfg.scales)
    return kwargs


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
        from centernet.inference.engine import prepare_model
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
    from centernet.jobs.bench import StageStats
    stats = StageStats()
    for t in samples:
        stats.add(t)
    return stats.summary(), round(stats.fps, 3)


def run_detector(cfg: Config, pool: ModelPool, images: ImageSet, warmup: int) -> tuple[list, list]:
    """One image per call (as live video) through the Detector with the configuration's engine.

    eager: the pool's prepared copy (BN folded, channels_last, cast) run as is; graph and
    onnxruntime: the Detector builds its engine from the loaded model. Images go in order of size
    and each new size is warmed up untimed first (a graph is captured per frame size).
    """
    from centernet.inference.detector import Detector
    base, info = pool.get(cfg.model)
    try:
        if cfg.engine == "eager":
            det = Detector(pool.prepared_model(cfg.model, cfg.precision), info, pool.device, engine="plain",
                           input_size=cfg.input_size, **tta_kwargs(cfg))
        else:
            det = Detector(base, info, pool.device, engine=cfg.engine, precision=cfg.precision,
                           input_size=cfg.input_size, **tta_kwargs(cfg))
    except ConfigError as e:  # e.g. flip for a model that decodes its own way
        raise Unsupported(str(e)) from None
    order = sorted(range(len(images.images)), key=lambda i: images.images[i].shape)
    dets, times, seen = [None] * len(order), [None] * len(order), set()
    for i in order:
        img = images.images[i]
        if not seen or (cfg.engine == "graph" and img.shape not in seen):
            for _ in range(max(1, warmup)):
                det(img)
            seen.add(img.shape)
        d = det(img)
        dets[i], times[i] = d, dict(d.timings)
    return dets, times


def category_ids_of(info, images: ImageSet) -> tuple[list[int], str]:
    """The data's category id per model class (for AP against ground truth), else 1..N."""
    from centernet.evaluation.metrics import category_map
    gt = images.gt.get(info.task)
    if gt is None:
        return list(range(1, len(info.class_names) + 1)), ""
    try:
        return category_map(info.class_names, gt), ""
    except ConfigError as e:
        return list(range(1, len(info.class_names) + 1)), str(e)


def run_config(cfg: Config, pool: ModelPool, images: ImageSet, warmup: int) -> Outcome:
    """Run one configuration on every image: timings, result rows and AP against ground truth."""
    from centernet.evaluation.metrics import coco_box_ap, coco_keypoint_ap, detections_to_rows
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


def _clean(metrics: dict, keys) -> dict:
    """pycocotools' -1 (no ground truth in that area range) becomes None."""
    return {k: (None if metrics.get(k) is None or metrics[k] < 0 else round(float(metrics[k]), 6)) for k in keys}


# ------------------------------------------------------------------------------------ agreement
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
    from centernet.evaluation.metrics import coco_box_ap, coco_keypoint_ap
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
    from centernet.jobs.pareto import pareto_front
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


# ------------------------------------------------------------------------------------ the cache
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
                       gt_note=d.get("gt_note", ""), rows=d.get("rows", []), images=d.get("images", 0),
                       cached=True, measured=d.get("measured", ""))

    def put(self, key: str, o: Outcome) -> None:
        from centernet.io.writers.atomic import write_json_atomic
        d = {"config": o.config.label(), "status": o.status, "stages": o.stages, "fps": o.fps, "box": o.box,
             "keypoints": o.keypoints, "gt_note": o.gt_note, "images": o.images, "measured": o.measured,
             "rows": o.rows}
        write_json_atomic(self.folder / f"{key}.json", d)


# ------------------------------------------------------------------------------------ the sweep
@dataclass
class ExploreReport:
    outcomes: list
    fronts: dict
    counts: dict
    files: dict
    device: str
    images: ImageSet


def explore(grid: ExploreGrid, out: Path, weights_dir: Path | None = None, data=None,
            max_images: int | None = None, device: str = "auto", paper: bool = False, defaults: bool = True,
            warmup: int = 2, progress: bool = True, say: Callable = print) -> ExploreReport:
    """Run the grid, write results.csv / results.json / results.md / pareto.png / pareto.svg to `out`,
    and print the Pareto-optimal configurations."""
    from centernet.jobs.bench import device_name
    from centernet.inference.detector import resolve_device
    if max_images is not None and max_images < 1:
        raise ConfigError("--max-images must be at least 1")
    if warmup < 0:
        raise ConfigError("--warmup must be 0 or more")
    out = Path(out)
    from centernet.io.writers.atomic import ensure_writable_dir
    ensure_writable_dir(out, "--out")
    dev = resolve_device(device)
    dev_name = device_name(dev)
    sources = find_models(weights_dir, grid.archs, defaults, say)
    images = load_images(data, {s.task for s in sources if not s.error}, max_images)
    for note in images.notes:
        say(f"note: {note}")
    configs = grid_configs(grid, sources)
    cache = ResultCache(out / "cache")
    outcomes: list[Outcome] = [Outcome(Config(s, ()), "failed", s.error) for s in sources if s.error]
    counts = {"ran": 0, "cached": 0, "skipped": 0, "failed": len(outcomes)}
    pool = ModelPool(dev)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(configs), desc="explore", unit="config", dynamic_ncols=True)
    try:
        for cfg in configs:
            if bar is not None:
                bar.set_postfix_str(f"{cfg.model.name} {cfg.short()}", refresh=False)
            outcome = _one(cfg, pool, images, cache, dev, dev_name, warmup)
            counts[{"ok": "cached" if outcome.cached else "ran"}.get(outcome.status, outcome.status)] += 1
            outcomes.append(outcome)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        pool.release()
    add_agreement(outcomes, images)
    fronts = mark_pareto(outcomes)
    report = ExploreReport(outcomes, fronts, counts, {}, dev_name, images)
    from centernet.jobs.explore_report import format_summary, write_report
    report.files = write_report(report, out, paper, data)
    say(format_summary(report))
    return report


def _one(cfg: Config, pool: ModelPool, images: ImageSet, cache: ResultCache, dev, dev_name: str,
         warmup: int) -> Outcome:
    reason = skip_reason(cfg, dev)
    if reason:
        return Outcome(cfg, "skipped", reason)
    key = cache.key(cfg, dev_name, images, warmup)
    hit = cache.get(key, cfg)
    if hit is not None:
        return hit
    try:
        outcome = run_config(cfg, pool, images, warmup)
    except Unsupported as e:
        return Outcome(cfg, "skipped", str(e))
    except torch.cuda.OutOfMemoryError as e:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return Outcome(cfg, "failed", f"out of GPU memory ({str(e).splitlines()[0][:160]})")
    except CenterNetError as e:
        return Outcome(cfg, "failed", str(e))
    except (RuntimeError, ValueError, MemoryError, NotImplementedError, TypeError, KeyError) as e:
        log.debug("configuration %s failed", cfg.label(), exc_info=True)
        text = str(e).splitlines()[0][:200] if str(e) else ""
        return Outcome(cfg, "failed", f"{type(e).__name__}: {text}")
    cache.put(key, outcome)
    return outcome

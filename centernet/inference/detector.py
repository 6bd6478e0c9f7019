"""Detector: image -> Detections in image pixels, through pre -> net -> decode -> post (-> merge).

One object serves the CLI, the GUI, annotation and benchmarks. Per-stage times (ms) are attached to
every result as `dets.timings`. Test-time augmentation (flip, several scales) follows the original:
see `tta.py`. ddd results get their 3D location and yaw from a camera (`cameras.py`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from centernet.inference.config import DetectorConfig
from centernet.inference.decode_movenet import movenet_decode
from centernet.inference.backends.auto import choose_backend
from centernet.inference.backends.base import Backend, Target, Workload
from centernet.inference.backends.onnxruntime import NAME as ONNXRUNTIME, load_exported
from centernet.inference.backends.registry import AUTO, BACKENDS, unsupported_reason
from centernet.geometry.cameras import DEFAULT_CAMERA, load_camera
from centernet.models.checkpoint import CheckpointInfo, load_checkpoint
from centernet.models.fingerprint import state_dict_sha256
from centernet.classes import COCO_FLIP_PAIRS
from centernet.inference.decode import decode_fixed, peaks_from_flat_index
from centernet.inference.backends.torch_engine import graph_ready
from centernet.detections import Detections
from centernet.errors import ConfigError, InputError
from centernet.inference.frame_pipeline import FLIP_TASKS, PIPELINE_TASKS
from centernet.inference.openvino_engine import PEAK_INDEX, PEAK_SCORES, has_deformable_conv
from centernet.geometry.boxes3d import alpha_to_rot_y, location_from_center
from centernet.models.zoo import cache_dir, default_weights
from centernet.timing import StageTimer
from centernet.geometry.transforms import (InputTransform, PreprocessSpec, as_bgr_uint8, output_points_to_image, plan_ddd_transform,
                         preprocess, warp_image)
from centernet.inference.tta import merge_flip, merge_scales

DDD_SCORE_THRESHOLD = 0.2  # the original's peak_thresh: ddd keeps only rows scoring above it
MAX_FRAME_BATCH = 32       # frames per graph replay: larger groups are split (graph memory grows with the batch)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA GPU is available: use --device cpu or auto")
    return device


class Detector:
    """A model with its checkpoint's pre-processing and decoding rules.

    >>> det = Detector.from_checkpoint("ctdet_coco_dla_2x.pth")
    >>> dets = det(cv2.imread("photo.jpg"))
    """

    def __init__(self, model: torch.nn.Module, info: CheckpointInfo, device: str | torch.device = "auto",
                 k: int | None = None, keep_res: bool = False, input_size: tuple[int, int] | None = None,
                 flip: bool = False, scales: tuple[float, ...] = (1.0,), camera: np.ndarray | None = None,
                 engine: str = "auto", precision: str = "fp32"):
        """flip: average with the mirrored image (ctdet, multi_pose; ddd ignores it, as the original).
        scales: test scales, merged with the original's soft-NMS when more than one (ddd uses the first).
        camera: 3x4 projection matrix for ddd (default: the original's KITTI camera).
        engine: a registered backend's name (backends/registry.py: eager, graph, onnxruntime,
        openvino, plain) or "auto" (backends/auto.py: on a GPU the CUDA graph where it can run the
        model, eager otherwise; on a CPU the fastest backend for this model, measured once, cached);
        `engine_name`, `engine_reason` and `engine_summary` say what runs and why.
        precision: fp32, fp16 (GPU), bf16, or auto (engine.py)."""
        kind = BACKENDS.get(engine)
        self.requested_device = str(device)  # a backend that picks its own device (OpenVINO) reads it
        self.device = resolve_device("cpu" if kind is not None and kind.picks_own_device else device)
        self.model = model.to(self.device).eval()   # the model as loaded: the backend prepares its own copy
        self.weights_sha256 = state_dict_sha256(self.model)
        self.info = info
        self.k = int(k or info.decode.get("k", 100))
        spec = info.preprocess
        if keep_res:
            spec = replace(spec, keep_res=True)
        if input_size is not None:
            spec = spec.with_input_size(*input_size)
        self.spec: PreprocessSpec = spec
        scales = tuple(float(v) for v in scales) or (1.0,)
        if any(not v > 0 for v in scales):
            raise ConfigError(f"test scales must be positive, got {', '.join(f'{v:g}' for v in scales)}")
        if (flip or scales != (1.0,)) and info.decode.get("rule", "centernet") != "centernet":
            raise ConfigError(f"--flip and --scales need a CenterNet model; {info.arch} decodes its own way")
        self.flip = bool(flip)
        self.scales = scales
        self.camera = DEFAULT_CAMERA if camera is None else np.asarray(camera, dtype=np.float32)
        self.engine_asked, self.precision_asked = engine, precision   # what was asked ("auto" or a backend)
        self.backend: Backend = self._make_backend(engine, precision)

    def _make_backend(self, engine: str, precision: str) -> Backend:
        """The registered backend asked for, or the one `auto` picks (backends/auto.py)."""
        target = Target(self.model, self.info, self.spec, self.device, self.k, self.flip_pairs, self.requested_device)
        if engine == AUTO:
            return choose_backend(target, self.workload, precision, self.weights_sha256,
                                  cache_dir() / "engine_choice.json")
        reason = unsupported_reason(engine, self.workload(precision))
        if reason:
            raise ConfigError(reason)
        return BACKENDS[engine].prepare(target, precision)

    def workload(self, precision: str, device: str | None = None) -> Workload:
        """What this model asks of a backend at `precision` (on `device`, default its own device type)."""
        return Workload(device or self.device.type, precision, self.task,
                        decodes_centernet=self.info.decode.get("rule", "centernet") == "centernet",
                        multi_scale=self.scales != (1.0,), fixed_size=graph_ready(self.spec),
                        deformable=has_deformable_conv(self.model), arch=self.info.arch)

    @property
    def engine(self):
        """The torch `Engine` the backend runs (its stats, pipelines and prepared model), or None."""
        return self.backend.engine

    @property
    def engine_name(self) -> str:
        return self.backend.name

    @property
    def engine_reason(self) -> str:
        return self.backend.reason

    @property
    def engine_summary(self) -> str:
        """One line for a readout: 'openvino bf16 (auto: fastest of 3, 24 ms/forward)' or 'eager fp32 (asked for)'."""
        b = self.backend
        return f"{b.name} {b.precision} ({f'{AUTO}: {b.note}' if self.engine_asked == AUTO else b.note})"

    @property
    def flip_pairs(self) -> tuple:
        """The (left, right) joint pairs a mirror swaps: COCO's 17 keypoints, as the original."""
        return COCO_FLIP_PAIRS

    @property
    def uses_graph(self) -> bool:
        """The backend serves whole frames (a captured CUDA graph of the frame pipeline)."""
        return self.backend.runs_frames

    def forward(self, batch: torch.Tensor) -> dict:
        """The network's raw heads for a pre-processed batch, through the backend."""
        return self.backend.run(batch)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, arch: str | None = None, task: str | None = None,
                        device: str | torch.device = "auto", **kwargs) -> "Detector":
        """Load any checkpoint (original or ours); with no path, the shipped default model for the task."""
        if path is None:
            path = default_weights(task or "ctdet")
        if str(path).lower().endswith(".onnx"):  # an exported file runs in ONNX Runtime whatever was asked
            session, info = load_exported(path)
            return cls(session, info, "cpu", **{**kwargs, "engine": ONNXRUNTIME, "precision": "fp32"})
        model, info = load_checkpoint(path, arch=arch, task=task)
        return cls(model, info, device, **kwargs)

    @classmethod
    def from_config(cls, config: DetectorConfig) -> "Detector":
        """The Detector a `DetectorConfig` describes (a calibration folder is looked up per image by the caller)."""
        camera = load_camera(config.calib_file) if config.calib_file is not None else None
        return cls.from_checkpoint(config.weights, arch=config.arch, task=config.task, device=config.device,
                                   keep_res=config.keep_res, input_size=config.input_size, flip=config.flip,
                                   scales=config.scales, camera=camera, engine=config.engine,
                                   precision=config.precision)

    @property
    def class_names(self) -> tuple:
        return self.info.class_names

    @property
    def task(self) -> str:
        return self.info.task

    def __call__(self, image: np.ndarray, camera: np.ndarray | None = None) -> Detections:
        return self.detect_batch([image], None if camera is None else [camera])[0]

    @torch.inference_mode()
    def detect_batch(self, images: list[np.ndarray],
                     cameras: list[np.ndarray | None] | None = None) -> list[Detections]:
        """Detect in several BGR images (any sizes); one forward pass per scale when their input sizes agree.

        cameras: per-image 3x4 matrices for ddd (None: the detector's camera).
        """
        for image in images:
            check_image(image)
        timer = StageTimer(self.device)   # one per call: two threads may run the same detector at once
        if self.backend.runs_frames:
            return self._detect_graph(images, cameras, timer)
        scales = self.scales[:1] if self.task == "ddd" else self.scales
        flip = self.flip and self.task in FLIP_TASKS
        per_scale: list[list[Detections]] = [[] for _ in images]
        for scale in scales:
            with timer("pre"):
                prepared = [self.preprocess(img, scale) for img in images]
                transforms = [tf for _, tf in prepared]
                batches = _group_by_shape([x for x, _ in prepared])
            for indices, batch in batches:
                if flip:
                    batch = torch.cat([batch, batch.flip(3)])
                with timer("net"):
                    outputs = self.forward(batch)
                with timer("decode"):
                    decoded = self.decode(outputs, flip=flip)
                with timer("post"):
                    for i, dets in zip(indices, decoded):
                        per_scale[i].append(self.to_image(dets.to("cpu"), transforms[i], self._camera(cameras, i)))
        if len(scales) > 1:  # keeps the original's best 100 (or K when K is larger)
            with timer("merge"):
                results = [merge_scales(dets, self.info.num_classes, self.task, max(100, self.k)) for dets in per_scale]
        else:
            results = [dets[0] for dets in per_scale]
        return self._with_timings(results, timer)

    def _detect_graph(self, images: list[np.ndarray], cameras: list[np.ndarray | None] | None = None,
                      timer: StageTimer | None = None) -> list[Detections]:
        """Every image through the backend's frame pipeline (the captured CUDA graph): images of any
        sizes share a run (each brings its own warp), at most MAX_FRAME_BATCH at a time. Same results
        as the eager path within the device pre-processing's rounding (see gpu_preprocess.py)."""
        timer = timer or StageTimer(self.device)
        frames = [as_bgr_uint8(img) for img in images]
        results: list[Detections] = []
        for start in range(0, len(frames), MAX_FRAME_BATCH):
            with timer(self.backend.name):   # one stage: the backend's whole frame path
                out = self.backend.run_frames(frames[start:start + MAX_FRAME_BATCH], flip=self.flip, spec=self.spec)
            with timer("post"):
                for i, (dets, tf) in enumerate(zip(out.detections.split(), out.transforms), start):
                    results.append(self.to_image(dets, tf, self._camera(cameras, i)))
        return self._with_timings(results, timer)

    def _with_timings(self, results: list[Detections], timer: StageTimer) -> list[Detections]:
        """Per-image stage times (the batch's time over its size) on every result and in engine.stats."""
        per_image = {stage: ms / len(results) for stage, ms in timer.times.items()}
        for r in results:
            r.timings = dict(per_image)
        if self.engine is not None:
            self.engine.stats.last_times = dict(per_image)
        return results

    def _camera(self, cameras: list[np.ndarray | None] | None, i: int) -> np.ndarray:
        return cameras[i] if cameras is not None and cameras[i] is not None else self.camera

    def preprocess(self, image: np.ndarray, scale: float = 1.0) -> tuple[torch.Tensor, InputTransform]:
        """The network input (1, 3, H, W) of an image at a test scale, and its transform."""
        if self.task == "ddd" and self.spec.resize == "affine":
            return preprocess_ddd(image, self.spec)
        return preprocess(image, self.spec, scale)

    def decode(self, outputs: dict, flip: bool = False) -> list[Detections]:
        """Head outputs of a batch -> Detections in output-map cells.

        With flip the batch holds the images then their mirrors; one result per image comes back.
        """
        rule = self.info.decode.get("rule", "centernet")
        if rule == "movenet":
            return [movenet_decode(*(outputs[n][i:i + 1] for n in ("center", "box_scale", "box_offset",
                                                                     "kpt_heatmap", "kpt_regress", "kpt_offset")),
                                   k=self.k) for i in range(outputs["center"].shape[0])]
        if self.task not in PIPELINE_TASKS:
            raise ConfigError(f"decoding for task {self.task!r} is not available in this version")
        scores, index = outputs.pop(PEAK_SCORES, None), outputs.pop(PEAK_INDEX, None)  # the openvino graph's top K
        peaks = None
        if flip:
            outputs = merge_flip(outputs, self.task, self.flip_pairs)
        elif scores is not None:
            peaks = peaks_from_flat_index(scores, index, outputs["hm"].shape)
        return decode_fixed(self.task, outputs, self.k, self.info.decode.get("box_mode", "size"),
                            heat_is_logits=not flip, peaks=peaks).split()

    def to_image(self, dets: Detections, tf: InputTransform, camera: np.ndarray | None = None) -> Detections:
        """Output-map cells -> image pixels (boxes corner by corner, joints point by point).

        ddd: the original's post-processing (see `ddd_to_image`) with `camera` (default: the detector's).
        """
        if self.task == "ddd" and dets.depth is not None:
            return ddd_to_image(dets, tf, self.camera if camera is None else camera)
        boxes = dets.boxes.numpy().reshape(-1, 2, 2)
        out = dets.map(lambda t: t)  # shallow copy
        out.boxes = torch.from_numpy(output_points_to_image(boxes, tf, 4).reshape(-1, 4))
        if dets.keypoints is not None:
            out.keypoints = torch.from_numpy(output_points_to_image(dets.keypoints.numpy(), tf, 4))
        return out


def check_image(image) -> None:
    """An image is a numpy array (BGR, grey or BGRA); `cv2.imread` gives None for a file it cannot read, which
    would otherwise fail deep in pre-processing as "'NoneType' object has no attribute 'dtype'"."""
    if isinstance(image, np.ndarray) and image.ndim in (2, 3) and image.size:
        return
    if image is None:
        raise InputError("no image (None): cv2.imread gives None for a file it cannot read; check the path")
    what = f"an array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
    raise InputError(f"not an image: {what}; give an H x W x 3 BGR numpy array (e.g. cv2.imread(path))")


def preprocess_ddd(image: np.ndarray, spec: PreprocessSpec) -> tuple[torch.Tensor, InputTransform]:
    """The original's ddd input: the whole image scaled by input_w / w about its centre (s = (w, h)),
    or with keep_res s = (input w, input h); no test-scale resize; normalised in float32."""
    image = as_bgr_uint8(image)
    tf = plan_ddd_transform(spec, image.shape[:2])
    warped = warp_image(image, replace(spec, keep_res=False), tf)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    inp = ((warped.astype(np.float32) / np.float32(255.0) - mean) / std).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(inp.transpose(2, 0, 1)))[None], tf


def ddd_to_image(dets: Detections, tf: InputTransform, camera: np.ndarray,
                 threshold: float = DDD_SCORE_THRESHOLD) -> Detections:
    """ddd detections in output-map cells -> image pixels and camera coordinates, as the original.

    Keeps rows scoring above `threshold`. The 2D box keeps the original's quirk: its size (w, h) goes
    through the output-to-image affine as if it were a point, translation included (for a KITTI
    image the heights grow by h/2 - 0.15 w px, split between y1 and y2). location = the 2D centre
    (image pixels) unprojected at the depth, moved down by h/2; rot_y = alpha + atan2(u - cx, fx).
    """
    dets = dets[dets.scores > threshold]
    b = dets.boxes.numpy().astype(np.float64)
    center = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    size = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    center_img = output_points_to_image(center, tf, 4)  # float32
    size_img = output_points_to_image(size, tf, 4)
    half = size_img / np.float32(2)
    boxes = np.concatenate([center_img - half, center_img + half], axis=1).astype(np.float32)
    dims = dets.dims.numpy().astype(np.float32)
    depth = dets.depth.numpy().astype(np.float32)
    out = dets.map(lambda t: t)
    out.boxes = torch.from_numpy(boxes)
    out.location = torch.from_numpy(location_from_center(center_img, depth, dims, camera))
    out.rotation_y = torch.from_numpy(alpha_to_rot_y(dets.alpha.numpy(), center_img[:, 0], camera))
    return out


def _group_by_shape(tensors: list[torch.Tensor]) -> list[tuple[list[int], torch.Tensor]]:
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(i)
    return [(idx, torch.cat([tensors[i] for i in idx])) for idx in groups.values()]

"""The FramePipeline (the computation a CUDA graph captures) run on the CPU against the Detector's eager path.

Real images, seeded original-layout weights (ctdet res_18, multi_pose dla_34, ddd dla_34), with and
without flip, batches of 1 and 3. The pipeline pre-processes with the torch reference of the GPU
kernel, which may differ from OpenCV's warp by rounding (mean <= 0.5, max <= 4 grey levels; none
with OpenCV >= 4.11), so end to end the detections are matched with tolerances. Fed the eager
path's own input tensor, the pipeline must reproduce its decode exactly.
"""
from functools import lru_cache

import cv2
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torchvision.ops import box_iou

from centernet.geometry.cameras import load_camera
from centernet.models.checkpoint import info_for_original, strict_load
from centernet.classes import COCO_FLIP_PAIRS
from centernet.inference.detector import Detector
from centernet.inference.frame_canvas import plan_warps
from centernet.inference.frame_pipeline import FLIP_TASKS, DecodeOptions, FramePipeline
from centernet.models.build import build_model
from centernet.geometry.transforms import PreprocessSpec
from tests.conftest import DATA, need, seeded_state_dict

# task -> arch, input size (small enough for the CPU suite), three real images (the first sets the batch's size)
CASES = {
    "ctdet": ("res_18", (384, 384), ["images/bus.jpg", "images/zidane.jpg", "images/messi5.jpg"]),
    "multi_pose": ("dla_34", (256, 256), ["images/zidane.jpg", "images/bus.jpg", "images/basketball1.png"]),
    "ddd": ("dla_34", (192, 640), ["kitti/000008.png", "kitti/training/image_2/000001.png",
                                   "kitti/training/image_2/000000.png"]),
}
MATCHED = 0.95  # share of detections that must match: rounding may move a few across the top-K cut
FIELDS = ("boxes", "scores", "labels", "keypoints", "keypoint_scores", "depth", "dims", "alpha", "location",
          "rotation_y")


@lru_cache(maxsize=3)
def _model(task):
    arch = CASES[task][0]
    state_dict = seeded_state_dict(task, arch)
    info = info_for_original(state_dict)
    model = build_model(info.arch, info.task, heads=info.heads, head_conv=info.head_conv)
    strict_load(model, state_dict, f"{task} {arch}", info.describe())
    return model.eval(), info


def _setup(task, flip, batch):
    """A CPU Detector (eager engine) and `batch` real images of one size."""
    _, size, names = CASES[task]
    images = [cv2.imread(str(need(DATA / n))) for n in names[:batch]]
    h, w = images[0].shape[:2]
    images = [images[0]] + [cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA) for im in images[1:]]
    model, info = _model(task)
    det = Detector(model, info, device="cpu", input_size=size, flip=flip)
    assert det.engine.mode == "eager"
    return det, images


def assert_same_detections(ref, got, task):
    """Detections above 0.3 matched by class with IoU >= 0.9 and score within 0.02; matched rows also
    agree on joints (1 px) or on depth (1 %), angles (0.01 rad) and location (5 cm)."""
    for r, g in zip(ref, got):
        r, g = r.above(0.3), g.above(0.28)
        assert len(r) > 0
        ok = (r.labels[:, None] == g.labels[None]) & ((r.scores[:, None] - g.scores[None]).abs() <= 0.02)
        iou = torch.where(ok, box_iou(r.boxes, g.boxes), torch.tensor(-1.0))
        best, j = iou.max(1)
        matched = best >= 0.9
        assert float(matched.float().mean()) >= MATCHED
        ri, gj = matched.nonzero()[:, 0], j[matched]
        if task == "multi_pose":
            dist = (r.keypoints[ri] - g.keypoints[gj]).norm(dim=-1)
            assert float((dist <= 1.0).float().mean()) >= MATCHED
        if task == "ddd":
            assert float(((r.depth[ri] - g.depth[gj]).abs() <= 0.01 * r.depth[ri]).float().mean()) >= MATCHED
            for name, tol in (("alpha", 0.01), ("rotation_y", 0.01), ("location", 0.05), ("dims", 0.01)):
                close = ((getattr(r, name)[ri] - getattr(g, name)[gj]).abs() <= tol).reshape(len(ri), -1).all(1)
                assert float(close.float().mean()) >= MATCHED, name


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
def test_frame_pipeline_on_frames_gives_the_eager_detections(task, flip, batch):
    det, images = _setup(task, flip, batch)
    cameras = None
    if task == "ddd":  # the first image brings its own camera, the others use the detector's
        cameras = [load_camera(need(DATA / "kitti" / "000008.txt"))] + [None] * (batch - 1)
    eager = det.detect_batch(images, cameras)
    pipelined = det._detect_graph(images, cameras)  # the graph path's code, the FramePipeline run as plain torch
    assert det.engine.stats.eager_runs >= 1 and det.engine.stats.captures == 0
    assert_same_detections(eager, pipelined, task)
    assert_same_detections(pipelined, eager, task)


@pytest.mark.slow
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
def test_frame_pipeline_fed_the_eager_input_decodes_exactly_as_the_detector(task, flip):
    det, images = _setup(task, flip, 3)
    flip = flip and task in FLIP_TASKS
    x = torch.cat([det.preprocess(im)[0] for im in images])
    with torch.inference_mode():
        want = det.decode(det.forward(torch.cat([x, x.flip(3)]) if flip else x), flip=flip)
        got = det.engine.pipeline(flip, det.spec).infer(x).split()
    for g, w in zip(got, want):
        assert len(w) > 0
        for name in FIELDS:
            a, b = getattr(g, name), getattr(w, name)
            assert (a is None) == (b is None) and (a is None or torch.equal(a, b)), name


# task -> real images of different sizes, in their own sizes (ddd: KITTI's 1242x375 and 1224x370)
MIXED = {"ctdet": ["images/bus.jpg", "images/zidane.jpg", "images/messi5.jpg"],
         "multi_pose": ["images/zidane.jpg", "images/basketball1.png", "images/bus.jpg"],
         "ddd": ["kitti/000008.png", "kitti/training/image_2/000000.png"]}


def _mixed(task, flip=False):
    """A CPU Detector (eager engine) and real images of different sizes, not resized."""
    model, info = _model(task)
    det = Detector(model, info, device="cpu", input_size=CASES[task][1], flip=flip)
    images = [cv2.imread(str(need(DATA / n))) for n in MIXED[task]]
    assert len({im.shape for im in images}) == len(images)
    return det, images


@pytest.mark.slow
@pytest.mark.parametrize("task, flip", [("ctdet", False), ("ctdet", True), ("multi_pose", False), ("ddd", False)])
def test_frames_of_different_sizes_in_one_run_give_each_frames_eager_detections(task, flip):
    """Each frame brings its own warp into one canvas: one pipeline run (one graph replay on a GPU)
    for every size, and each frame's detections are what it gives alone through the eager path."""
    det, images = _mixed(task, flip)
    runs = det.engine.stats.eager_runs
    together = det._detect_graph(images)
    assert det.engine.stats.eager_runs == runs + 1
    alone = [det.detect_batch([image])[0] for image in images]
    assert_same_detections(alone, together, task)
    assert_same_detections(together, alone, task)


@pytest.mark.slow
def test_a_padded_batch_with_a_changing_number_of_real_frames_gives_each_frames_detections():
    """As the live model thread pads (centernet/live/model.py: one frame per stream, the last real frame
    repeated): streams of three sizes, rounds of 3, 1 and 2 ready frames in one run of three each."""
    det, images = _mixed("ctdet")
    alone = [det.detect_batch([image])[0] for image in images]
    runs = det.engine.stats.eager_runs
    for ready in ([0, 1, 2], [1], [2, 0]):
        real = [images[i] for i in ready]
        padded = real + [real[-1]] * (len(images) - len(real))
        got = det._detect_graph(padded)[:len(real)]
        want = [alone[i] for i in ready]
        assert_same_detections(want, got, "ctdet")
        assert_same_detections(got, want, "ctdet")
    assert det.engine.stats.eager_runs == runs + 3


def test_each_frames_warp_is_planned_for_its_own_size_and_refused_without_a_fixed_input():
    det, images = _mixed("ctdet")
    warps = det.engine.pipeline().warps([im.shape[:2] for im in images])
    assert warps.matrices.shape == (3, 2, 3) and warps.matrices.dtype == np.float32
    assert warps.sizes.tolist() == [list(im.shape[:2]) for im in images]
    for tf, image in zip(warps.transforms, images):
        want = det.preprocess(image)[1]
        assert (tf.matrix == want.matrix).all() and tf.image_size == image.shape[:2]
    with pytest.raises(ValueError, match="fixed network input size"):
        plan_warps("ctdet", PreprocessSpec(keep_res=True), [(96, 160), (120, 120)])


@pytest.mark.parametrize("flip", [False, True])
def test_default_model_pipeline_gives_the_eager_detections_with_real_weights(flip):
    """The shipped ctdet model: pad-to-square RGB input, ltrb boxes (left and right swap in the mirror)."""
    from centernet.models.zoo import default_weights
    det = Detector.from_checkpoint(default_weights("ctdet"), device="cpu", flip=flip)
    assert det.spec.resize == "pad_square" and det.info.decode["box_mode"] == "ltrb"
    images = [cv2.imread(str(need(DATA / "images" / n))) for n in ("bus.jpg", "zidane.jpg")]
    for image in images:
        assert_same_detections(det.detect_batch([image]), det._detect_graph([image]), "ctdet")


def test_ddd_pipeline_plans_the_detectors_own_geometry_and_ignores_flip():
    det, images = _setup("ddd", True, 1)
    pipe = det.engine.pipeline(flip=True)
    _, tf = det.preprocess(images[0])
    assert not pipe.options.merges_flip
    planned = pipe.plan(images[0].shape[:2])
    assert (planned.matrix == tf.matrix).all() and planned.input_size == tf.input_size
    assert (pipe.warps([images[0].shape[:2]]).transforms[0].matrix == tf.matrix).all()


class DeviceProvenance(TorchDispatchMode):
    """Records every device tensor an op receives that neither was `known` beforehand nor came out of
    an op seen here: a constant copied from the host (torch.tensor(list), a list index), which a
    capturing CUDA stream forbids. CPU scalars (wrapped Python numbers) are kernel arguments, not copies."""

    def __init__(self, known):
        super().__init__()
        self.alive = list(known)  # held, so that ids are not reused
        self.ids = {id(t) for t in self.alive}
        self.foreign: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for t in tree_leaves((args, kwargs)):
            if isinstance(t, torch.Tensor) and id(t) not in self.ids and not (t.device.type == "cpu" and t.dim() == 0):
                self.foreign.append((str(func), t.device.type, tuple(t.shape)))
        out = func(*args, **kwargs)
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.alive.append(t)
                self.ids.add(id(t))
        return out


@pytest.mark.parametrize("task, heads, flip, arch", [
    ("ctdet", None, False, "res_18"), ("ctdet", None, True, "res_18"),
    ("ctdet", {"hm": 80, "wh": 4, "reg": 2}, True, "res_18"),  # ltrb boxes
    ("multi_pose", None, False, "res_18"), ("multi_pose", None, True, "res_18"), ("ddd", None, False, "res_18"),
    ("ctdet", None, False, "resdcn_18")])  # the gathered deformable conv, which graph mode runs
def test_frame_pipeline_is_graph_capturable_no_sync_no_mask_no_host_copy(task, heads, flip, arch):
    """On the meta device a host sync (.item(), a boolean mask, nonzero, branching on a value) raises;
    the provenance check catches host-to-device copies."""
    from centernet.models.backbones.dcn import use_fast_deform_conv
    model = build_model(arch, task, heads=heads).eval().to("meta")
    assert (use_fast_deform_conv(model) > 0) == (arch == "resdcn_18")
    spec = PreprocessSpec(input_size=(128, 160))
    options = DecodeOptions(task, 20, "ltrb" if heads else "size", flip, COCO_FLIP_PAIRS)
    pipe = FramePipeline(model, spec, options, "meta")
    frames = torch.empty(2, 90, 150, 3, dtype=torch.uint8, device="meta")  # a canvas: each frame's warp is data
    matrices = torch.empty(2, 2, 3, dtype=torch.float32, device="meta")
    sizes = torch.empty(2, 2, dtype=torch.int32, device="meta")
    bounds = torch.empty(2, 4, dtype=torch.float32, device="meta")
    known = [frames, matrices, sizes, bounds, *model.parameters(), *model.buffers(), *pipe._coords, *pipe._norm]
    with torch.inference_mode(), DeviceProvenance(known) as seen:
        out = pipe(frames, matrices, sizes, bounds)
    assert seen.foreign == []
    assert out.scores.shape == (2, 20) and out.boxes.shape == (2, 20, 4)

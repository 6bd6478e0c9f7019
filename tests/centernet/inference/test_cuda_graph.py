"""The captured CUDA graph against the eager path, and when it is (re-)captured (CUDA tests marked).

`main.py bench --gpu-check` runs more (real default weights, fp16, throughput). The computation the
graph captures is checked on the CPU in test_frame_pipeline.py.
"""
import numpy as np
import pytest
import torch

from centernet.inference.cuda_graph import pack_rows, unpack_rows
from centernet.inference.detector import Detector
from centernet.inference.frame_canvas import MAX_CANVAS
from centernet.inference.backends.torch_engine import Engine
from centernet.geometry.transforms import PreprocessSpec
from tests.centernet.inference.test_frame_pipeline import CASES, _model, _setup, assert_same_detections

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def test_rows_pack_into_one_float_tensor_and_come_back_exactly():
    from centernet.inference.decode import decode_fixed
    from tests.centernet.inference.test_decode import _random_heads
    dets = decode_fixed("multi_pose", _random_heads("multi_pose"), k=30)
    packed, layout = pack_rows(dets)
    assert packed.dtype == torch.float32 and packed.shape == (3, 30, 4 + 1 + 1 + 34 + 17)
    back = unpack_rows(packed, layout)
    for name, t in dets.tensors().items():
        assert torch.equal(getattr(back, name), t) and getattr(back, name).dtype == t.dtype, name


@pytest.mark.parametrize("mode, device, precision, kind", [
    ("graph", "cuda", "fp16", "gathered"), ("graph", "cuda", "fp32", "gathered"),
    ("eager", "cuda", "fp32", "torchvision"), ("eager", "cuda", "fp16", "torchvision"),
    ("eager", "cuda", "bf16", "gathered"), ("eager", "cpu", "fp32", "gathered")])
def test_a_graph_engine_runs_the_gathered_deformable_conv(mode, device, precision, kind):
    """torchvision's CUDA deform_conv2d launches on the legacy default stream, which a capture leaves
    out (pytorch/vision#9513): a graph-mode engine's model must run the gathered conv, in fp16 too."""
    from centernet.inference.backends.torch_engine import deform_conv_kind, prepare_model
    from centernet.models.backbones.dcn import DCN
    from centernet.models.build import build_model
    assert deform_conv_kind(mode, torch.device(device), precision) == kind
    model = build_model("dla_34", "ctdet").to("meta")
    prepared = prepare_model(model, torch.device("meta"), "fp32", fold_bn=False, fast_deform=kind == "gathered")
    layers = [m for m in prepared.modules() if isinstance(m, DCN)]
    assert layers and all(m.fast == (kind == "gathered") for m in layers)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where capturing fails (no GPU)")
def test_a_failed_capture_is_remembered_and_that_input_runs_eager(caplog):
    """Capturing on a machine with no GPU fails for real (pinned memory needs a driver): the engine
    says so once, runs those frames eager, and does not try to capture them again."""
    model, _ = _model("ctdet")
    eng = Engine(model, PreprocessSpec(input_size=(64, 64)), torch.device("cpu"), "fp32", "eager")
    eng.mode = "graph"  # what a CUDA engine is; here the capture itself will fail
    frames = [np.zeros((48, 64, 3), np.uint8)] * 2
    with caplog.at_level("WARNING", logger="centernet.inference.backends.torch_engine"):
        first = eng.run_frames(frames).detections
        again = eng.run_frames(frames).detections
    assert torch.equal(first.scores, again.scores) and first.scores.shape == (2, 100)
    assert eng.stats.capture_failures == 1 and eng.stats.captures == 0 and eng.stats.eager_runs == 2
    assert len(eng.failed_captures) == 1
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "capture failed for 2 frame(s) of 64x48" in caplog.records[0].message
    eng.run_frames(frames[:1])  # another batch is another key: tried (and failed) once more
    assert eng.stats.capture_failures == 2


def _graph_and_eager(task: str, flip: bool) -> tuple[Detector, Detector]:
    """The task's seeded model on the GPU through the graph engine and the eager one (the reference)."""
    model, info = _model(task)
    size = CASES[task][1]
    return (Detector(model, info, device="cuda", input_size=size, flip=flip, engine="graph"),
            Detector(model, info, device="cuda", input_size=size, flip=flip, engine="eager"))


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
def test_graph_gives_the_eager_detections_for_every_task_with_and_without_flip(task, flip):
    _, images = _setup(task, flip, 3)
    graph, eager = _graph_and_eager(task, flip)
    got = graph.detect_batch(images)
    assert graph.engine.stats.captures == 1 and graph.engine.stats.replays == 1
    assert graph.engine.deform_conv == "gathered"  # dla_34 (multi_pose, ddd) has DCNs: captured, not left out
    want = eager.detect_batch(images)
    assert_same_detections(want, got, task)
    assert_same_detections(got, want, task)
    alone = [graph.detect_batch([image])[0] for image in images]  # batch 1 is a graph of its own
    assert_same_detections(alone, got, task)  # a batch of 3 gives what each frame gives alone
    assert graph.engine.stats.captures == 2 and graph.engine.stats.replays == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where capturing fails (no GPU)")
def test_frames_of_any_size_and_a_changing_number_of_real_frames_ask_for_one_graph(caplog):
    """The graph a batch asks for depends on its canvas and batch size, not on its frames' sizes: where
    capturing fails for real (no GPU), the engine remembers every key it asked for. Padded batches of
    three frames of three sizes with 3, 1 and 2 real ones ask for one; a taller frame grows the shared
    canvas once (one more key, said once); a frame beyond MAX_CANVAS runs on a canvas of its own
    (said once), the shared canvas unchanged."""
    model, _ = _model("ctdet")
    eng = Engine(model, PreprocessSpec(input_size=(64, 64)), torch.device("cpu"), "fp32", "eager", k=10)
    eng.mode = "graph"  # what a CUDA engine is; here each capture fails and is remembered by its key
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for hw in ((48, 64), (60, 40), (30, 90))]
    with caplog.at_level("INFO", logger="centernet.inference.backends.torch_engine"):
        for ready in ([0, 1, 2], [1], [2, 0]):
            real = [frames[i] for i in ready]
            eng.run_frames(real + [real[-1]] * (3 - len(real)))
        assert list(eng.failed_captures) == [((64, 128), 3, eng.spec, False)] and eng.canvas_hw == (64, 128)
        tall = rng.integers(0, 255, (100, 50, 3), dtype=np.uint8)
        eng.run_frames([tall, *frames[:2]])
        assert eng.canvas_hw == (128, 128) and eng.stats.capture_failures == 2
        eng.run_frames(frames)  # fits the grown canvas: the tall batch's key, not tried again
        assert eng.stats.capture_failures == 2
        huge = np.zeros((MAX_CANVAS[0] + 1, 32, 3), np.uint8)
        for _ in range(2):
            eng.run_frames([huge, *frames[:2]])
        assert eng.canvas_hw == (128, 128) and eng.stats.capture_failures == 3
    assert eng.stats.eager_runs == 7 and eng.stats.captures == 0
    said = [r.message for r in caplog.records]
    assert len([m for m in said if "grows from 128x64 to 128x128" in m]) == 1
    oversized = [m for m in said if "canvas of its own" in m]
    assert len(oversized) == 1 and f"larger than {MAX_CANVAS[1]}x{MAX_CANVAS[0]}" in oversized[0]


@pytest.mark.cuda
@cuda
def test_graph_serves_any_frame_size_on_its_canvas_is_recaptured_for_a_batch_canvas_spec_or_flip_and_bounded():
    model, _ = _model("ctdet")
    eng = Engine(model, PreprocessSpec(input_size=(256, 256)), torch.device("cuda"), "fp32", "graph", max_graphs=3)
    rng = np.random.default_rng(0)
    small = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(4)]
    other = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    large = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(2)]
    first = eng.run_frames(small[:2]).detections
    again = eng.run_frames(small[:2]).detections
    assert eng.stats.captures == 1 and eng.stats.replays == 2 and torch.equal(first.scores, again.scores)
    assert eng.canvas_hw == (256, 320)
    eng.run_frames([small[0], other])       # another frame size on the same canvas: the same graph
    assert eng.stats.captures == 1 and eng.stats.replays == 3
    eng.run_frames(small)                   # batch 4
    assert eng.stats.captures == 2
    eng.run_frames(large)                   # larger frames: the canvas grows, its smaller graphs are dropped
    assert eng.stats.captures == 3 and eng.canvas_hw == (512, 640) and eng.stats.evictions == 2
    eng.run_frames(small[:2], spec=PreprocessSpec(input_size=(320, 320)))  # input resolution
    eng.run_frames(small[:2], flip=True)    # flip
    assert eng.stats.captures == 5 and eng.stats.evictions == 2
    eng.run_frames(small)                   # batch 4 again, on the grown canvas: the bound evicts the oldest
    assert eng.stats.captures == 6 and eng.stats.evictions == 3
    eng.run_frames(large)                   # evicted: captured again
    assert eng.stats.captures == 7 and eng.stats.replays == 9


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("task, flip", [("ctdet", True), ("multi_pose", False), ("ddd", False)])
def test_frames_of_different_sizes_share_one_replay_and_give_each_frames_eager_detections(task, flip):
    """Each frame's warp fed into the replay: real images in their own sizes, one capture, one replay;
    a padded batch (the live model thread's: the last real frame repeated) replays the same graph."""
    from tests.centernet.inference.test_frame_pipeline import _mixed
    _, images = _mixed(task, flip)
    graph, eager = _graph_and_eager(task, flip)
    got = graph.detect_batch(images)
    assert graph.engine.stats.captures == 1 and graph.engine.stats.replays == 1
    want = [eager.detect_batch([image])[0] for image in images]
    assert_same_detections(want, got, task)
    assert_same_detections(got, want, task)
    padded = graph.detect_batch([images[-1]] * len(images))[:1]
    assert graph.engine.stats.captures == 1 and graph.engine.stats.replays == 2
    assert_same_detections(want[-1:], padded, task)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("task, flip, precision, kernels", [
    ("ctdet", True, "fp32", False), ("multi_pose", False, "fp32", False),  # the torch-only graph (no CuPy)
    ("multi_pose", True, "fp16", None), ("ddd", False, "fp16", None)])    # fp16 graphs with DCNs
def test_torch_only_and_fp16_graphs_give_the_eager_detections(task, flip, precision, kernels):
    _, images = _setup(task, flip, 2)
    model, info = _model(task)
    size = CASES[task][1]
    graph = Detector(model, info, device="cuda", input_size=size, flip=flip, engine="graph", precision=precision)
    if kernels is not None:
        graph.engine.use_kernels = kernels
    eager = Detector(model, info, device="cuda", input_size=size, flip=flip, engine="eager", precision=precision)
    got, want = graph.detect_batch(images), eager.detect_batch(images)
    assert graph.engine.stats.captures == 1 and graph.engine.stats.capture_failures == 0
    assert graph.engine.deform_conv == "gathered" and eager.engine.deform_conv == "torchvision"
    assert_same_detections(want, got, task)
    assert_same_detections(got, want, task)


@pytest.mark.cuda
@cuda
def test_capture_from_a_worker_thread_and_with_forward_hooks():
    """A worker thread captures while this one allocates (thread_local capture mode); a hook that
    skips while capturing keeps the graph; one that copies to the host fails the capture, which the
    engine remembers (eager from then on) with this thread back on its own stream."""
    from tools.gpu_check import check_capture_conditions
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(2)]
    report = check_capture_conditions(frames, input_size=(128, 128))
    for name, r in report.items():
        assert r["pass"], (name, r)
    assert report["hook_copying_to_host"]["capture_failures"] == 1 and report["hook_copying_to_host"]["eager_runs"] == 2
    assert torch.cuda.current_stream() == torch.cuda.default_stream()


@pytest.mark.cuda
@cuda
def test_a_failed_capture_raises_its_own_error_and_restores_the_stream():
    from centernet.inference.cuda_graph import capture
    graph, side = torch.cuda.CUDAGraph(), torch.cuda.Stream()
    x = torch.ones(4, device="cuda")
    with pytest.raises(RuntimeError) as error:
        capture(graph, side, lambda: (x * 2).cpu())  # a blocking copy: not allowed while capturing
    assert "capture" in str(error.value).lower() or "operation not permitted" in str(error.value).lower()
    assert torch.cuda.current_stream() == torch.cuda.default_stream()
    assert not torch.cuda.is_current_stream_capturing()
    assert float((x * 3).sum()) == 12.0  # the device still works
    ok_graph = torch.cuda.CUDAGraph()
    y = capture(ok_graph, side, lambda: x * 5)
    ok_graph.replay()
    torch.cuda.synchronize()
    assert float(y.sum()) == 20.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where the kernels cannot run (no GPU)")
def test_unusable_kernels_fall_back_to_torch_and_say_why_once(caplog):
    pytest.importorskip("cupy", reason="CuPy is not installed (then the note is an info line)")
    from centernet.inference.backends import torch_engine as engine
    from kernels.runtime import probe
    probe.cache_clear()
    engine._say_kernels_off.cache_clear()
    with caplog.at_level("INFO", logger="centernet.inference.backends.torch_engine"):
        assert not engine.kernels_usable() and not engine.kernels_usable()
    notes = [r for r in caplog.records if "CUDA kernels off" in r.message]
    assert len(notes) == 1 and notes[0].levelname == "WARNING"
    assert "CuPy is installed but cannot run kernels" in notes[0].message
    assert "the torch pre-processing and decode run instead" in notes[0].message

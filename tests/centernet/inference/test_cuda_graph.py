"""The captured CUDA graph against the eager path, and when it is (re-)captured (CUDA tests marked).

`main.py bench --gpu-check` runs more (real default weights, fp16, throughput). The computation the
graph captures is checked on the CPU in test_frame_pipeline.py.
"""
import numpy as np
import pytest
import torch

from centernet.inference.cuda_graph import pack_rows, unpack_rows
from centernet.inference.detector import Detector
from centernet.inference.engine import Engine
from centernet.inference.transforms import PreprocessSpec
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


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
def test_graph_gives_the_eager_detections_for_every_task_with_and_without_flip(task, flip):
    _, images = _setup(task, flip, 3)
    model, info = _model(task)
    size = CASES[task][1]
    graph = Detector(model, info, device="cuda", input_size=size, flip=flip, engine="graph")
    eager = Detector(model, info, device="cuda", input_size=size, flip=flip, engine="eager")
    got = graph.detect_batch(images)
    assert graph.engine.stats.captures == 1 and graph.engine.stats.replays == 1
    want = eager.detect_batch(images)
    assert_same_detections(want, got, task)
    assert_same_detections(got, want, task)
    alone = [graph.detect_batch([image])[0] for image in images]  # batch 1 is a graph of its own
    assert_same_detections(alone, got, task)  # a batch of 3 gives what each frame gives alone
    assert graph.engine.stats.captures == 2 and graph.engine.stats.replays == 4


@pytest.mark.cuda
@cuda
def test_graph_is_recaptured_for_a_new_frame_size_batch_spec_or_flip_and_the_cache_is_bounded():
    model, _ = _model("ctdet")
    eng = Engine(model, PreprocessSpec(input_size=(256, 256)), torch.device("cuda"), "fp32", "graph", max_graphs=3)
    rng = np.random.default_rng(0)
    small = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(4)]
    large = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(2)]
    first = eng.run_frames(small[:2]).detections
    again = eng.run_frames(small[:2]).detections
    assert eng.stats.captures == 1 and eng.stats.replays == 2 and torch.equal(first.scores, again.scores)
    eng.run_frames(small)                   # batch 4
    eng.run_frames(large)                   # frame size
    assert eng.stats.captures == 3 and eng.stats.evictions == 0
    eng.run_frames(small[:2], spec=PreprocessSpec(input_size=(320, 320)))  # input resolution
    eng.run_frames(small[:2], flip=True)    # flip
    assert eng.stats.captures == 5 and eng.stats.evictions == 2
    eng.run_frames(small[:2])               # evicted: captured again
    assert eng.stats.captures == 6 and eng.stats.replays == 7

"""The graph backend: on a CUDA GPU the whole frame path (pre-processing, network, [flip merge], fixed-shape
decode) captured once per input as a CUDA graph and replayed (torch_engine.py, cuda_graph.py, frame_pipeline.py).
It serves whole uint8 frames (`runs_frames`); `run` is the eager forward the same prepared model runs."""
from __future__ import annotations

from centernet.inference.backends.base import BackendKind, Workload, precision_reason
from centernet.inference.backends.eager import EagerBackend
from centernet.inference.backends.torch_engine import GRAPH, graph_reason


class GraphBackend(EagerBackend):
    """`Engine` in graph mode: frames in, fixed-shape detections out (one replay per batch)."""

    runs_frames = True
    prefers_batch = True   # one replay serves a batch of frames
    overlaps_runs = False   # one captured graph, one set of static buffers
    mode = GRAPH

    def hook_modules(self) -> tuple:
        return ()  # its model runs only to warm up and capture: a hook's blocking copy would break the capture


def unsupported_reason(w: Workload) -> str | None:
    """The torch precision rules, then: one scale, a CenterNet decode, CUDA, a pipeline task, a fixed size."""
    return precision_reason(w) or graph_reason(w)


KIND = BackendKind(
    name=GRAPH, label="graph",
    help="CUDA: the whole frame path captured once as a CUDA graph (ctdet, multi_pose, ddd at one fixed size)",
    precisions=("fp16", "bf16", "fp32"), devices=("cuda",),
    unsupported_reason=unsupported_reason, prepare=GraphBackend)

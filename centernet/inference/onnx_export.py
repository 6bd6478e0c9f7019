"""ONNX export and an ONNX Runtime model that stands in for the torch model on CPU.

Deformable convolutions export as the standard opset-19 `DeformConv` (a loaded model runs
torchvision's reference op; the engine's gathered formulation is never exported). The checkpoint's
info (arch, task, classes, pre-processing, decoding) travels in the model's metadata, so an
exported file is self-describing. The onnxruntime engine exports once per weights and input size
into the cache folder.
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import torch

from centernet.geometry.transforms import PreprocessSpec
from centernet.models.checkpoint import CheckpointInfo, load_checkpoint
from centernet.models.fingerprint import state_dict_sha256
from centernet.errors import CheckpointError, ConfigError
from centernet.io.writers.atomic import atomic_path, ensure_writable_file
from centernet.models.zoo import cache_dir

log = logging.getLogger(__name__)
OPSET = 19
METADATA_KEY = "centernet_info"


def info_metadata(info: CheckpointInfo) -> str:
    return json.dumps({"arch": info.arch, "task": info.task, "heads": info.heads, "head_conv": info.head_conv,
                       "class_names": list(info.class_names), "preprocess": info.preprocess.to_dict(),
                       "decode": info.decode})


def export_onnx(weights, out_path, input_size: tuple[int, int] | None = None, arch=None, task=None) -> Path:
    """Export a checkpoint to ONNX (written atomically); returns the path."""
    ensure_writable_file(Path(out_path), "--out")  # before the export, not after it
    model, info = load_checkpoint(weights, arch=arch, task=task)
    return export_model_onnx(model, info, out_path, input_size)


def export_model_onnx(model: torch.nn.Module, info: CheckpointInfo, out_path,
                      input_size: tuple[int, int] | None = None) -> Path:
    """Export a loaded model with its info as metadata (written atomically); returns the path."""
    try:
        import onnx
    except ImportError:
        raise ConfigError("ONNX export needs the onnx extras: pip install -e .[onnx]") from None
    h, w = input_size or tuple(info.preprocess.input_size)
    model = copy.deepcopy(model).eval().cpu()  # the caller's model stays where it is
    with torch.no_grad():  # output names in the order the model returns its heads
        names = list(model(torch.zeros(1, 3, h, w)).keys())
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        with torch.no_grad():
            program = torch.onnx.export(model, (torch.zeros(1, 3, h, w),), dynamo=True, opset_version=OPSET,
                                        input_names=["input"], output_names=names, verbose=False)
        proto = program.model_proto
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, info_metadata(info)
        onnx.save(proto, tmp)
    return out_path


def onnx_runtime_available() -> bool:
    """Whether the onnx extras (exporter and runtime) are installed."""
    import importlib.util
    return all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))


def cached_onnx_model(model: torch.nn.Module, info: CheckpointInfo, input_size: tuple[int, int],
                      threads: int | None = None) -> "OnnxRuntimeModel":
    """`model` run by ONNX Runtime, exported once per weights and input size into the cache folder."""
    return OnnxRuntimeModel(cached_onnx_path(model, info, input_size), threads)


def cached_onnx_path(model: torch.nn.Module, info: CheckpointInfo, input_size: tuple[int, int]) -> Path:
    """The ONNX export of `model` at `input_size`, written once per weights into the cache folder."""
    h, w = input_size
    key = state_dict_sha256(model)[:16]
    path = cache_dir() / "onnx" / f"{info.arch}_{info.task}_{h}x{w}_{key}.onnx"
    if not path.is_file():
        log.info("exporting %s %s at %dx%d to ONNX once (cached in %s)", info.arch, info.task, h, w, path.parent)
        try:
            export_model_onnx(model, info, path, (h, w))
        except OSError as e:
            raise ConfigError(f"cannot write the ONNX export to {path.parent} ({e.strerror or e}): "
                              f"set CENTERNET_HOME to a writable folder") from None
    return path


class OnnxRuntimeModel(torch.nn.Module):
    """An ONNX Runtime session with the torch model's call signature: NCHW tensor -> dict of heads."""

    def __init__(self, path, threads: int | None = None):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("the onnxruntime engine needs onnxruntime: pip install -e .[onnx]") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # idle worker threads sleep instead of spinning: they would steal the cores from the rest of
        # the frame path (decode, rendering, the GUI) and from torch models in the same process
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.info_dict = json.loads(meta[METADATA_KEY]) if METADATA_KEY in meta else None
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> dict:
        """Heads of a batch; an export with a fixed batch of 1 runs image by image."""
        batch = np.ascontiguousarray(x.detach().cpu().float().numpy())
        fixed = self.session.get_inputs()[0].shape[0]
        parts = [batch] if not isinstance(fixed, int) or fixed == len(batch) else [b[None] for b in batch]
        outs = [self.session.run(None, {self.input_name: p}) for p in parts]
        return {n: torch.from_numpy(np.concatenate([o[i] for o in outs])) for i, n in enumerate(self.output_names)}


def info_from_metadata(model: "OnnxRuntimeModel", path) -> CheckpointInfo:
    """The CheckpointInfo an exported file carries (exported by `export_onnx`)."""
    d = model.info_dict
    if d is None:
        raise CheckpointError(f"{path} was not exported by this project (no {METADATA_KEY} metadata): "
                              f"export it with `main.py export onnx`")
    return CheckpointInfo(d["arch"], d["task"], dict(d["heads"]), int(d["head_conv"]), tuple(d["class_names"]),
                          PreprocessSpec.from_dict(d["preprocess"]), dict(d["decode"]), "onnx")

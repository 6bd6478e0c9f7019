"""Which engine can run which configuration: the one set of rules the Detector, the Engine, explore's
sweep and the GUI's engine menu all ask.

Pure: the caller says what it has (device type, resolved or asked precision, task, whether the model
decodes the CenterNet way, one scale or several, a fixed input size, which optional runtimes are
installed); the answer is None when the engine can run it, else one sentence saying why not.
"""
from __future__ import annotations

from typing import Mapping

from centernet.inference.frame_pipeline import PIPELINE_TASKS

# What `--engine` accepts. auto: the best engine that can run it; plain: the model exactly as loaded.
ENGINE_NAMES = ("auto", "eager", "graph", "onnxruntime", "openvino", "plain")
PRECISIONS = ("fp32", "fp16", "bf16", "auto")
GRAPH_NEEDS = "the graph engine needs CUDA, a ctdet, multi_pose or ddd model and a fixed input size"
# Optional runtimes and how to install them: ONNX Runtime and OpenVINO both run the ONNX export.
RUNTIME_INSTALL = {"onnxruntime": "pip install -e .[onnx]", "openvino": "pip install -e .[onnx] openvino"}


def engine_unsupported_reason(engine: str, device: str, precision: str = "fp32", task: str = "ctdet",
                              decodes_centernet: bool = True, multi_scale: bool = False, fixed_size: bool = True,
                              installed: Mapping[str, bool] | None = None, gpu_bf16: bool = True) -> str | None:
    """Why `engine` cannot run this configuration, or None when it can.

    device: the torch device type ("cpu", "cuda"); OpenVINO picks its own device and ignores it.
    precision: fp32, fp16, bf16 or auto. decodes_centernet: False for models with their own decoding
    rule (MoveNet). fixed_size: False with keep_res or a resize that follows each image.
    installed: runtime name -> importable (None: not checked). gpu_bf16: this GPU runs bfloat16.
    """
    if engine not in ENGINE_NAMES:
        return f"unknown engine {engine!r}: use {', '.join(ENGINE_NAMES)}"
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}"
    if engine == "plain":
        return None  # the model exactly as loaded: precision and engine options do not apply
    if engine == "openvino":
        return _openvino_reason(precision, multi_scale, fixed_size, installed)
    if precision == "fp16" and device != "cuda":
        return "fp16 needs a CUDA GPU (CPU convolutions have no fast fp16); on CPU use --precision bf16 or fp32"
    if precision == "bf16" and device == "cuda" and not gpu_bf16:
        return "bf16 is not supported by this GPU: use --precision fp16 or fp32"
    if engine == "graph":
        return _graph_reason(device, task, decodes_centernet, multi_scale, fixed_size)
    if engine == "onnxruntime":
        return _onnxruntime_reason(device, precision, multi_scale, fixed_size, installed)
    return None  # eager runs anything; auto falls back to it


def _graph_reason(device: str, task: str, decodes_centernet: bool, multi_scale: bool, fixed_size: bool) -> str | None:
    if not decodes_centernet:
        return "the graph engine cannot run a model that decodes its own way (MoveNet): use --engine auto or eager"
    if multi_scale:
        return "the graph engine runs one scale (multi-scale testing runs eager): use --engine auto or eager"
    if device != "cuda":
        return f"{GRAPH_NEEDS}: this runs on the {device.upper()}; use --engine eager"
    if task not in PIPELINE_TASKS:  # the frame pipeline, which a CUDA graph captures
        return f"{GRAPH_NEEDS}: this is a {task} model; use --engine eager"
    if not fixed_size:
        return f"{GRAPH_NEEDS}: the input size follows each image (--keep-res); use --engine eager"
    return None


def _onnxruntime_reason(device: str, precision: str, multi_scale: bool, fixed_size: bool,
                        installed: Mapping[str, bool] | None) -> str | None:
    if device != "cpu":
        return "the onnxruntime engine runs on the CPU: add --device cpu (or use --engine auto on a GPU)"
    if precision not in ("fp32", "auto"):
        return f"the onnxruntime engine runs fp32: drop --precision {precision}"
    if multi_scale or not fixed_size:
        return "the onnxruntime engine runs one fixed input size: drop --keep-res / --scales"
    return _missing_runtime("onnxruntime", installed)


def _openvino_reason(precision: str, multi_scale: bool, fixed_size: bool,
                     installed: Mapping[str, bool] | None) -> str | None:
    if precision not in ("fp32", "bf16", "auto"):
        return f"the openvino engine runs fp32 or bf16, not {precision}: use --precision fp32 or bf16"
    if multi_scale or not fixed_size:
        return "the openvino engine runs one fixed input size: drop --keep-res / --scales"
    return _missing_runtime("openvino", installed)


def _missing_runtime(engine: str, installed: Mapping[str, bool] | None) -> str | None:
    if installed is None or installed.get(engine, False):
        return None
    return f"the {engine} engine is not installed: {RUNTIME_INSTALL[engine]}"

"""`main.py export onnx`: a checkpoint as an ONNX file."""
from __future__ import annotations

from pathlib import Path

from app.cli.options import ARCH, INPUT_SIZE, OUT, TASK, WEIGHTS
from centernet.inference.backends.onnxruntime import NAME as ONNXRUNTIME
from centernet.inference.onnx_export import export_onnx
from centernet.models.zoo import default_weights


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint: onnx")
    p.add_argument("format", choices=("onnx",))
    WEIGHTS.add(p)
    ARCH.add(p)
    TASK.add(p)
    INPUT_SIZE.add(p, help="fixed input HxW or N (default: the checkpoint's)")
    OUT.add(p, help="output .onnx file (default: the checkpoint's name, in this folder)")
    p.set_defaults(func=run)


def run(args) -> int:
    weights = args.weights or default_weights(args.task or "ctdet")
    path = export_onnx(weights, args.out or Path(Path(weights).stem + ".onnx"), args.input_size, args.arch, args.task)
    print(f"wrote {path} (ONNX opset 19; `main.py detect --weights {path}` runs it in the {ONNXRUNTIME} engine)")
    return 0

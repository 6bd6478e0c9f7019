"""The shipped default models and the original model zoo table."""
from __future__ import annotations

from pathlib import Path

from .errors import CheckpointError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_MODELS = {
    "ctdet": ASSETS / "models" / "centernet_mobilenetv3.pth",
    "multi_pose": ASSETS / "models" / "movenet_multipose.pth",
}


def default_weights(task: str = "ctdet") -> Path:
    """The shipped checkpoint used when no --weights is given."""
    path = DEFAULT_MODELS.get(task)
    if path is None:
        raise CheckpointError(f"no default model for task {task!r}: pass --weights (see `main.py weights list`)")
    if not path.exists():
        raise CheckpointError(f"default model missing: {path} (rebuild it with tools/convert_default_models.py "
                              f"or pass --weights)")
    return path

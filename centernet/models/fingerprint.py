"""One fingerprint of a model's weights: the ONNX export cache, the CPU engine choice and annotate's resume state
all key on it."""
from __future__ import annotations

import hashlib

import torch


def state_dict_sha256(model: torch.nn.Module) -> str:
    """sha256 of every tensor of the state dict (names, dtypes, shapes, bytes), hex."""
    digest = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()

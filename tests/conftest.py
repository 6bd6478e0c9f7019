"""Shared test fixtures: where the shared data lives, seeded original-layout checkpoints."""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# `--engine auto` on a CPU measures eager, onnxruntime and openvino once per model (ONNX export included):
# tests not about that choice keep the eager engine; tests/centernet/inference/test_engine_choice.py clears it
os.environ.setdefault("CENTERNET_CPU_ENGINE", "eager")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # each of the parallel workers (and the main.py subprocesses they start) uses one core
    os.environ["CENTERNET_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
SHARED = (ROOT.parent / "shared").resolve()
DATA = SHARED / "data"
LAYOUT = SHARED / "reference" / "official_layout"
HARNESS = SHARED / "reference" / "harness"
OFFICIAL_REF = ROOT / "tests" / "data" / "official"


def need(path: Path) -> Path:
    """Skip the calling test, with the reason, when shared data is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not beside this checkout)")
    return path


def layout_manifest(task: str, arch: str) -> dict:
    return json.loads(need(LAYOUT / f"{task}_{arch}.json").read_text())


def seeded_state_dict(task: str, arch: str) -> dict:
    """The harness's deterministic weights for a layout manifest (same as the original was run with).

    A fresh copy each call (tests may edit it); generated once per process."""
    return {k: v.clone() for k, v in _seeded_state_dict(task, arch).items()}


@functools.lru_cache(maxsize=4)
def _seeded_state_dict(task: str, arch: str) -> dict:
    need(HARNESS / "seeded_weights.py")
    if str(HARNESS) not in sys.path:
        sys.path.insert(0, str(HARNESS))
    import seeded_weights
    return seeded_weights.make_state_dict(layout_manifest(task, arch))


@pytest.fixture(scope="session")
def seeded_checkpoint(tmp_path_factory):
    """seeded_checkpoint(task, arch, prefix="") -> path of an original-format file with seeded weights."""
    import torch
    cache = {}
    folder = tmp_path_factory.mktemp("seeded")

    def make(task: str = "ctdet", arch: str = "res_18", prefix: str = "") -> Path:
        key = (task, arch, prefix)
        if key not in cache:
            sd = seeded_state_dict(task, arch)
            path = folder / f"{task}_{arch}{'_prefixed' if prefix else ''}.pth"
            torch.save({"epoch": 1, "state_dict": {prefix + k: v for k, v in sd.items()}}, path)
            cache[key] = path
        return cache[key]

    return make

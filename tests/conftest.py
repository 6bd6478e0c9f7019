"""Shared test fixtures: where the shared data lives, seeded original-layout checkpoints."""
from __future__ import annotations

import faulthandler
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A suite started in the background by a shell without job control (`... &`, nohup) inherits SIGINT ignored, and so
# would every main.py it starts: the tests that stop a run with Ctrl-C would see it ignored. A handler, unlike an
# ignored signal, is not inherited across exec: the runs start with Ctrl-C working.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# `--engine auto` on a CPU measures eager, onnxruntime and openvino once per model (ONNX export included):
# tests not about that choice keep the eager engine; tests/centernet/inference/backends/test_cpu_choice.py clears it
os.environ.setdefault("CENTERNET_CPU_ENGINE", "eager")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # each of the parallel workers (and the main.py subprocesses they start) uses one core
    os.environ["CENTERNET_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def two_cpu_threads(monkeypatch):
    """CENTERNET_THREADS=2 for this test (a parallel worker runs one thread: OpenVINO then has no second CPU
    stream to give), torch's thread count put back after it."""
    import torch
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if allowed < 2:
        pytest.skip("one CPU core: no second thread for a second OpenVINO stream")
    before = torch.get_num_threads()
    monkeypatch.setenv("CENTERNET_THREADS", "2")
    yield
    torch.set_num_threads(before)


# A worker that crashes (a signal in native code) dumps every thread's Python stack into a file of its own,
# which the controller prints when the worker goes down (a CI log shows the summary's end, not the worker's stderr)
FAULTS = Path(os.environ.setdefault("CENTERNET_TEST_FAULTS", tempfile.mkdtemp(prefix="pytest-faults-")))


def fault_file(worker: str) -> Path:
    return FAULTS / f"{worker}.txt"


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:   # after pytest's own faulthandler plugin, which writes to the worker's stderr
        config._fault_file = fault_file(worker).open("w")
        faulthandler.enable(file=config._fault_file, all_threads=True)


def pytest_unconfigure(config) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):   # the controller made the folder (after its workers went)
        shutil.rmtree(FAULTS, ignore_errors=True)


def crash_summary(dump: str, lines: int = 40) -> str:
    """The crashing thread's stack (first `lines` lines) and the other threads' innermost frames, from a
    faulthandler dump."""
    blocks = dump.strip().split("\n\n")
    current = [b for b in blocks if b.startswith("Current thread")]
    others = [b.splitlines()[:2] for b in blocks if b.startswith("Thread 0x")]
    text = "\n".join((current[0] if current else dump).splitlines()[:lines])
    if others:
        text += "\nother threads (innermost frame):\n" + "\n".join(
            f"  {b[1].strip() if len(b) > 1 else b[0]}" for b in others)
    return text


def pytest_testnodedown(node, error) -> None:
    """When a parallel worker dies, say how (the signal or exit status) and where (its fault dump)."""
    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    if not error or popen is None:
        return
    try:
        code = popen.wait(timeout=10)
    except Exception as e:   # still running or already reaped: nothing more to say
        code = f"unknown ({type(e).__name__})"
    if isinstance(code, int) and code < 0:   # strsignal also names real-time signals, which Signals has no member for
        code = f"killed by signal {-code} ({signal.strsignal(-code)})"
    elif isinstance(code, int):
        code = f"exit status {code}"
    print(f"\nworker {node.gateway.id} (pid {popen.pid}) went down: {code}", file=sys.stderr, flush=True)
    dump = fault_file(node.gateway.id)
    if dump.is_file() and dump.stat().st_size:
        print(crash_summary(dump.read_text(errors="replace")), file=sys.stderr, flush=True)


def shared_folder() -> Path:
    """The folder laid out as ../shared (data/, reference/): $CENTERNET_TEST_SHARED, else ../shared
    beside the checkout, else the copy in carry/shared (git-ignored; `tools/gpu_carry.py` makes it
    for a lent GPU machine, where ../shared does not travel)."""
    if os.environ.get("CENTERNET_TEST_SHARED"):
        return Path(os.environ["CENTERNET_TEST_SHARED"]).resolve()
    beside = (ROOT.parent / "shared").resolve()
    return beside if beside.is_dir() else ROOT / "carry" / "shared"


SHARED = shared_folder()
DATA = SHARED / "data"
LAYOUT = SHARED / "reference" / "official_layout"
HARNESS = SHARED / "reference" / "harness"
OFFICIAL_REF = ROOT / "tests" / "data" / "official"


def need(path: Path) -> Path:
    """Skip the calling test, with the reason, when shared data is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (no ../shared beside this checkout, carry/shared or $CENTERNET_TEST_SHARED)")
    return path


# Optional packages a test module may import at its top: absent (the GPU machine has none of the
# first five), the module is skipped with this reason instead of stopping the whole collection.
OPTIONAL_PACKAGES = {"PyQt6": "the desktop app", "pytestqt": "the desktop app's tests (pytest-qt)",
                     "pycocotools": "COCO evaluation", "openvino": "the OpenVINO engine", "ray": "Ray sweeps",
                     "onnxruntime": "the ONNX Runtime engine", "cupy": "the CUDA kernels", "matplotlib": "plots"}


class OptionalImportModule(pytest.Module):
    """A test module that a missing optional package skips (with the reason) rather than breaks."""

    def _getobj(self):
        try:
            return super()._getobj()
        except self.CollectError as e:
            missing = e.__cause__
            name = (getattr(missing, "name", None) or "").split(".")[0]
            if isinstance(missing, ModuleNotFoundError) and name in OPTIONAL_PACKAGES:
                raise pytest.skip.Exception(f"{self.path.name} needs {name} ({OPTIONAL_PACKAGES[name]}), which is not "
                                            "installed", allow_module_level=True) from None
            raise


def pytest_pycollect_makemodule(module_path, parent):
    return OptionalImportModule.from_parent(parent, path=module_path)


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

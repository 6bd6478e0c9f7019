"""The engine registry: one list of names every front end reads, each backend's own capability rule, no
engine named by its string (nor asked for by type) outside the registry and the backend modules."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from centernet.inference.backends import base, registry
from centernet.inference.backends.registry import AUTO, BACKENDS, ENGINE_NAMES, engine_help, unsupported_reason

ROOT = Path(__file__).resolve().parents[4]
BACKEND_DIR = ROOT / "centernet" / "inference" / "backends"
INFERENCE = ROOT / "centernet" / "inference"
# Besides the backend modules (backends/torch_engine.py among them: it declares the eager and graph names, the two
# modes of the torch Engine both torch backends run): onnx_export.py and openvino_engine.py wrap the runtimes the onnxruntime and openvino
# backends are made of, and name their Python packages (find_spec) and the export cache's folder.
BACKEND_IMPLEMENTATIONS = {INFERENCE / "onnx_export.py", INFERENCE / "openvino_engine.py"}


def test_every_name_is_declared_once_and_has_help():
    assert ENGINE_NAMES == (AUTO, *BACKENDS) and len(set(ENGINE_NAMES)) == len(ENGINE_NAMES)
    assert {"eager", "graph", "onnxruntime", "openvino", "plain"} == set(BACKENDS)
    for name, kind in BACKENDS.items():
        assert kind.name == name and kind.help and kind.label
        assert set(kind.precisions) <= {"fp32", "fp16", "bf16"} and set(kind.devices) <= {"cpu", "cuda"}
        assert f"{name}: {kind.help}" in engine_help()


@pytest.mark.parametrize("command", [["detect", "x.jpg"], ["annotate", "x.mp4"], ["gui"], ["bench"]])
def test_every_registered_name_is_accepted_by_the_command_line(command):
    from app.cli.main import build_parser
    parser = build_parser()
    for name in ENGINE_NAMES:
        assert parser.parse_args([*command, "--engine", name]).engine == name
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--engine", "onnx"])   # what `export onnx` once suggested


def test_explore_sweeps_every_registered_name_and_refuses_others():
    from centernet.errors import ConfigError
    from centernet.jobs.explore import ExploreGrid
    assert ExploreGrid(engine=tuple(BACKENDS)).engine == tuple(BACKENDS)
    with pytest.raises(ConfigError, match="unknown engine 'onnx'"):
        ExploreGrid(engine=("onnx",))


def test_export_onnx_names_a_real_engine(tmp_path, seeded_checkpoint):
    import subprocess
    import sys
    pytest.importorskip("onnxscript", reason="the onnx extras are not installed")
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", "onnx", "--weights",
                          str(seeded_checkpoint("ctdet", "res_18")), "--input-size", "64", "--out",
                          str(tmp_path / "m.onnx")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    named = [w.strip("`(),.") for w in out.stdout.split() if w.strip("`(),.") in ENGINE_NAMES]
    assert named == ["onnxruntime"], out.stdout
    assert "--weights" in out.stdout   # how to run it: the exported file as the checkpoint


def test_the_gui_menu_offers_every_registered_backend_with_the_reason_where_one_cannot(qtbot):
    from app.gui.controls import engine_entries
    everything = engine_entries(cuda=True, cpu_bf16=True, installed={name: True for name in BACKENDS})
    assert {engine for _, (_, engine, _), _ in everything} == set(ENGINE_NAMES)
    assert all(why is None for _, _, why in everything), "a GPU machine with every runtime runs them all"
    bare = engine_entries(cuda=False, cpu_bf16=False, installed={})
    reasons = {engine: why for _, (_, engine, _), why in bare if why}
    assert set(BACKENDS) <= {engine for _, (_, engine, _), _ in bare}   # still listed, eager and plain included
    assert "needs CUDA" in reasons["graph"] and "not installed" in reasons["onnxruntime"]
    assert "eager" in {engine for _, (_, engine, _), why in bare if why is None}
    assert "plain" in {engine for _, (_, engine, _), why in bare if why is None}


def test_each_backend_says_why_it_cannot_run_a_workload():
    w = base.Workload
    assert unsupported_reason("eager", w("cpu", "fp16")).startswith("fp16 needs a CUDA GPU")
    assert unsupported_reason("plain", w("cpu", "fp16")) is None
    assert "needs CUDA" in unsupported_reason("graph", w("cpu"))
    assert "runs on the CPU" in unsupported_reason("onnxruntime", w("cuda"))
    assert "res_18's deformable" in unsupported_reason("openvino", w("cpu", deformable=True, arch="res_18"))
    assert unsupported_reason("openvino", w("cpu", deformable=True, arch="res_18", multi_scale=True))
    assert "unknown engine 'tensorrt'" in unsupported_reason("tensorrt", w("cuda"))
    assert unsupported_reason(AUTO, w("cpu", "bf16")) is None and unsupported_reason(AUTO, w("cpu", "fp16"))


def _string_constants(tree: ast.AST):
    """Every str constant that is not a docstring, with its line."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _library_files():
    for top in ("app", "centernet", "kernels"):
        yield from sorted((ROOT / top).rglob("*.py"))


def test_no_engine_is_named_by_its_string_outside_the_registry_and_the_backend_modules():
    """A string equal to an engine's name (help text and docstrings are sentences, never a bare name)."""
    found = []
    for path in _library_files():
        if path.parent == BACKEND_DIR or path in BACKEND_IMPLEMENTATIONS:
            continue
        for line, value in _string_constants(ast.parse(path.read_text(encoding="utf-8"))):
            if value in BACKENDS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {value!r}")
    assert not found, "engine names written by hand (take them from the registry):\n" + "\n".join(found)


def test_the_search_for_engine_names_finds_one(tmp_path):
    tree = ast.parse('"""openvino in a docstring is fine."""\nx = "openvino"\ny = f"{x} fp32"\n')
    assert [v for _, v in _string_constants(tree) if v in BACKENDS] == ["openvino"]


BACKEND_TYPES = {   # a backend's own types: only its module (and the one defining them) may test for them
    "OnnxRuntimeModel": {"backends/onnxruntime.py", "onnx_export.py"},
    "OpenVinoModel": {"backends/openvino.py", "openvino_engine.py"},
    "EagerBackend": {"backends/eager.py"}, "PlainBackend": {"backends/eager.py"},
    "GraphBackend": {"backends/graph.py"}, "OnnxRuntimeBackend": {"backends/onnxruntime.py"},
    "OpenVinoBackend": {"backends/openvino.py"}, "Engine": {"backends/torch_engine.py"},
}


def test_no_isinstance_on_a_backend_type_outside_its_own_module():
    found = []
    for path in _library_files():
        rel = path.relative_to(ROOT / "centernet" / "inference").as_posix() if "inference" in path.parts else ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)} | \
                        {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: {t}" for t in names & set(BACKEND_TYPES)
                          if rel not in BACKEND_TYPES[t]]
    assert not found, "\n".join(found)


def test_the_detector_holds_a_backend_and_names_what_auto_picked(seeded_checkpoint, tmp_path, monkeypatch):
    """auto on a CPU reads the measured choice (here a cache file written by hand) and says why, in the
    format the headless readout prints: 'engine: eager fp32 (auto: fastest of 3, 10 ms/forward)'."""
    from centernet.inference.backends import cpu_choice as ec
    from centernet.inference.detector import Detector
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path))
    monkeypatch.delenv("CENTERNET_CPU_ENGINE", raising=False)
    path = seeded_checkpoint("ctdet", "res_18")
    asked = Detector.from_checkpoint(path, device="cpu", input_size=(64, 64), engine="plain")
    assert asked.engine_summary == "plain fp32 (asked for)" and asked.engine is None
    eager = Detector.from_checkpoint(path, device="cpu", input_size=(64, 64), engine="eager", precision="fp32")
    candidates = ec.cpu_candidates("fp32", "fp32", False, registry.installed_runtimes())
    timings = {c.label: 10.0 * (i + 1) for i, c in enumerate(candidates)}
    key = ec.choice_key(eager.weights_sha256, (64, 64), "fp32", ec.cpu_model_name(), eager_threads())
    (tmp_path / "engine_choice.json").write_text(json.dumps({key: {"timings_ms": timings, "date": "today"}}))
    auto = Detector.from_checkpoint(path, device="cpu", input_size=(64, 64), engine="auto", precision="fp32")
    n = len(candidates)
    assert auto.engine_name == "eager" and "cached" in auto.engine_reason
    assert auto.engine_summary == f"eager fp32 (auto: fastest of {n}, 10 ms/forward)"
    import numpy as np
    image = np.zeros((48, 80, 3), np.uint8)
    assert len(auto(image).boxes) == len(eager(image).boxes)   # the same path: pre, backend, decode, post


def eager_threads() -> int:
    from centernet.inference.backends.torch_engine import tune_cpu_threads
    return tune_cpu_threads()

"""ONNX export read back by ONNX Runtime: same heads as torch, deformable convs included."""
import subprocess
import sys

import pytest
import torch

from centernet.models.checkpoint import load_checkpoint
from tests.conftest import ROOT

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e .[onnx])")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install -e .[onnx])")


@pytest.mark.parametrize("arch", ["res_18", "resdcn_18"])
def test_onnx_runtime_agrees_with_torch(seeded_checkpoint, tmp_path, arch):
    import onnx
    from centernet.inference.onnx_export import OnnxRuntimeModel, export_onnx
    path = export_onnx(seeded_checkpoint("ctdet", arch), tmp_path / f"{arch}.onnx", input_size=(256, 256))
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("DeformConv" in ops) == arch.startswith("resdcn")
    ort_model = OnnxRuntimeModel(path)
    assert ort_model.info_dict["arch"] == arch and ort_model.info_dict["task"] == "ctdet"
    model, _ = load_checkpoint(seeded_checkpoint("ctdet", arch))
    x = torch.randn(2, 3, 256, 256)  # the export's batch is 1: a batch of 2 runs image by image
    with torch.no_grad():
        ref = model(x)
    got = ort_model(x)
    assert set(got) == set(ref)
    for k in ref:
        assert got[k].shape == ref[k].shape
        assert torch.allclose(got[k], ref[k], atol=1e-4, rtol=1e-4), k


def test_export_command_writes_the_file_and_nothing_half_written(seeded_checkpoint, tmp_path):
    out = tmp_path / "m.onnx"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", "onnx", "--weights",
                        str(seeded_checkpoint("ctdet", "res_18")), "--out", str(out), "--input-size", "256"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1_000_000 and not list(tmp_path.glob("*.part"))


def test_detect_runs_an_exported_onnx_file_like_the_checkpoint(seeded_checkpoint, tmp_path):
    import cv2
    from centernet.inference.detector import Detector
    from centernet.inference.onnx_export import export_onnx
    from tests.conftest import DATA, need
    img = cv2.imread(str(need(DATA / "images" / "bus.jpg")))
    ckpt = seeded_checkpoint("ctdet", "res_18")
    path = export_onnx(ckpt, tmp_path / "r.onnx")
    a = Detector.from_checkpoint(ckpt, device="cpu", engine="plain")(img)
    b = Detector.from_checkpoint(path)(img)
    assert b.timings and len(a) == len(b)
    assert torch.allclose(a.scores, b.scores, atol=1e-4) and torch.allclose(a.boxes, b.boxes, atol=0.05)


def test_onnxruntime_engine_exports_once_and_detects_like_the_torch_engine(seeded_checkpoint, tmp_path, monkeypatch):
    import cv2
    from centernet.inference.detector import Detector
    from tests.conftest import DATA, need
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    image = cv2.imread(str(need(DATA / "images" / "bus.jpg")))
    path = seeded_checkpoint("ctdet", "res_18")
    torch_dets = Detector.from_checkpoint(path, device="cpu", input_size=(256, 256))(image)
    ort = Detector.from_checkpoint(path, device="cpu", input_size=(256, 256), engine="onnxruntime")
    exported = list((tmp_path / "home" / "onnx").glob("res_18_ctdet_256x256_*.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    ort_dets = ort(image)
    torch.testing.assert_close(ort_dets.boxes, torch_dets.boxes, rtol=0, atol=0.05)
    torch.testing.assert_close(ort_dets.scores, torch_dets.scores, rtol=0, atol=1e-4)
    Detector.from_checkpoint(path, device="cpu", input_size=(256, 256), engine="onnxruntime")  # cached: no export
    assert exported[0].stat().st_mtime_ns == stamp
    # the weights' fingerprint (annotate's resume key) is the torch model's, not the ONNX stand-in's empty one
    from centernet.jobs.annotate import model_digest
    from centernet.models.fingerprint import state_dict_sha256
    model, info = load_checkpoint(path)
    assert model_digest(ort) == state_dict_sha256(model) == model_digest(Detector(model, info, device="cpu"))
    assert model_digest(ort) != state_dict_sha256(torch.nn.Module())


def test_onnxruntime_engine_refuses_what_it_cannot_run(seeded_checkpoint, tmp_path, monkeypatch):
    from centernet.inference.detector import Detector
    from centernet.errors import ConfigError
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    path = seeded_checkpoint("ctdet", "res_18")
    with pytest.raises(ConfigError, match="runs fp32: drop --precision bf16"):
        Detector.from_checkpoint(path, device="cpu", engine="onnxruntime", precision="bf16")
    with pytest.raises(ConfigError, match="one fixed input size"):
        Detector.from_checkpoint(path, device="cpu", engine="onnxruntime", keep_res=True)
    assert not (tmp_path / "home" / "onnx").exists()  # refused before anything was exported

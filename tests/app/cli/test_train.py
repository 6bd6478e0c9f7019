"""`main.py train` and `main.py eval` in real subprocesses."""
import json
import subprocess
import sys

import pytest
import torch

from centernet.data.synthetic import make_synthetic, write_coco_folder
from tests.conftest import DATA, ROOT, need


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_train_a_couple_of_steps_then_eval_the_checkpoint_on_a_coco_folder(tmp_path):
    folder = tmp_path / "shapes"
    write_coco_folder(make_synthetic(4, seed=7), folder)
    run = tmp_path / "run"
    r = run_cli("train", "--task", "ctdet", "--arch", "res_18", "--data", folder, "--epochs", "1", "--batch", "2",
                "--input-size", "64", "--workers", "1", "--max-steps", "2", "--eval-every", "1", "--out", run,
                "--lr", "1e-3", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (run / "last.pth").exists() and (run / "steps.csv").exists() and (run / "loss.png").exists()
    log = json.loads((run / "log.json").read_text())
    assert log[-1]["step"] == 2 and "AP" in log[-1]["eval"]  # evaluated after the (only) epoch
    saved = torch.load(run / "last.pth", weights_only=True)
    assert saved["class_names"] == ["rectangle", "ellipse", "triangle"]

    metrics, dets = tmp_path / "m" / "metrics.json", tmp_path / "dets.json"
    r = run_cli("eval", "--weights", run / "last.pth", "--data", folder, "--out", metrics, "--detections", dets,
                "--max-images", "3", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in r.stdout
    m = json.loads(metrics.read_text())
    assert m["images"] == 3 and set(m["bbox"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    rows = json.loads(dets.read_text())
    assert rows and {r["category_id"] for r in rows} <= {1, 2, 3} and {r["image_id"] for r in rows} <= {1, 2, 3}


def test_eval_an_original_checkpoint_on_coco_mini_uses_real_category_ids(seeded_checkpoint, tmp_path):
    need(DATA / "coco_mini")
    dets = tmp_path / "dets.json"
    r = run_cli("eval", "--weights", seeded_checkpoint("ctdet", "res_18"), "--data", DATA / "coco_mini",
                "--max-images", "2", "--input-size", "256", "--detections", dets, "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ctdet res_18 (80 classes) on instances_val2017: 2 images" in r.stdout
    ids = {row["category_id"] for row in json.loads(dets.read_text())}
    assert ids and ids <= set(range(1, 91)) and not ids & {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}


def test_train_and_eval_errors_are_one_line_and_exit_2(tmp_path):
    r = run_cli("train", "--data", tmp_path / "missing", "--out", tmp_path / "o")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "does not exist" in r.stderr
    r = run_cli("train", "--data", "synthetic:2", "--batch", "4", "--out", tmp_path / "o", "--input-size", "64")
    assert r.returncode == 2 and "larger than the data" in r.stderr
    r = run_cli("eval", "--weights", tmp_path / "nope.pth", "--data", "synthetic:2")
    assert r.returncode == 2 and "not found" in r.stderr

"""`main.py detect` end to end, in subprocesses and in-process, on real images."""
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from app.cli.main import main
from tests.conftest import DATA, ROOT, need


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_detect_writes_rendered_image_and_coco_results_pycocotools_loads(seeded_checkpoint, tmp_path):
    from pycocotools.coco import COCO
    bus = need(DATA / "images" / "bus.jpg")
    out, js = tmp_path / "out", tmp_path / "res" / "dets.json"
    r = run_cli("detect", "--weights", seeded_checkpoint("ctdet", "res_18"), bus, "--out", out, "--json", js,
                "--timings")
    assert r.returncode == 0, r.stderr
    assert "median" in r.stdout and "net" in r.stdout
    rendered = cv2.imread(str(out / "bus.jpg"))
    assert rendered.shape == cv2.imread(str(bus)).shape
    rows = json.loads(js.read_text())
    assert len(rows) == 100 and {r["file_name"] for r in rows} == {"bus.jpg"}
    h, w = rendered.shape[:2]
    gt = COCO()
    gt.dataset = {"images": [{"id": 0, "width": w, "height": h, "file_name": "bus.jpg"}], "annotations": [],
                  "categories": [{"id": i} for i in range(1, 91)]}
    gt.createIndex()
    res = gt.loadRes(str(js))
    assert len(res.getAnnIds()) == 100
    assert all(1 <= r["category_id"] <= 90 for r in rows)


def test_coco_file_names_give_numeric_image_ids_and_threshold_filters_json(seeded_checkpoint, tmp_path):
    img = need(DATA / "coco_mini" / "val2017" / "000000000139.jpg")
    js = tmp_path / "d.json"
    assert main(["detect", "--weights", str(seeded_checkpoint("ctdet", "res_18")), str(img), "--json", str(js),
                 "--threshold", "0.35", "--quiet"]) == 0
    rows = json.loads(js.read_text())
    assert rows and all(r["image_id"] == 139 and r["score"] >= 0.35 for r in rows)


def test_folders_globs_and_odd_formats_all_work(seeded_checkpoint, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    base = cv2.imread(str(need(DATA / "images" / "zidane.jpg")))
    cv2.imwrite(str(src / "gray.png"), cv2.cvtColor(base, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(src / "rgba.png"), cv2.cvtColor(base, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(src / "deep.png"), base.astype(np.uint16) * 257)
    cv2.imwrite(str(src / "tiny.png"), base[:1, :1])
    js = tmp_path / "d.json"
    code = main(["detect", "--weights", str(seeded_checkpoint("ctdet", "res_18")), str(src), str(src / "*.png"),
                 "--json", str(js), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 0
    rows = json.loads(js.read_text())
    assert {r["image_id"] for r in rows} == set(range(8))  # 4 from the folder + 4 from the glob
    assert len(list((tmp_path / "o").iterdir())) == 8  # same names get distinct outputs


@pytest.mark.parametrize("case", ["missing", "not_image", "empty_folder", "unwritable_out", "wrong_task",
                                  "bad_glob"])
def test_bad_input_gives_one_line_error_and_nonzero_exit(seeded_checkpoint, tmp_path, case):
    ckpt = str(seeded_checkpoint("ctdet", "res_18"))
    bus = str(need(DATA / "images" / "bus.jpg"))
    args = {"missing": [str(tmp_path / "nope.jpg")],
            "not_image": [str(ROOT / "setup.cfg")],
            "empty_folder": [str(tmp_path)],
            "unwritable_out": [bus, "--out", str(ROOT / "setup.cfg" / "sub")],
            "wrong_task": [bus, "--task", "multi_pose"],
            "bad_glob": [str(tmp_path / "*.jpg")]}[case]
    r = run_cli("detect", "--weights", ckpt, *args)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr


def test_corrupt_jpeg_among_good_ones_is_reported_and_the_rest_done(seeded_checkpoint, tmp_path, capsys):
    bus = need(DATA / "images" / "bus.jpg")
    shutil.copy(bus, tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    js = tmp_path / "d.json"
    code = main(["detect", "--weights", str(seeded_checkpoint("ctdet", "res_18")), str(tmp_path), "--json", str(js)])
    assert code == 1
    assert "b.jpg" in capsys.readouterr().err
    assert {r["file_name"] for r in json.loads(js.read_text())} == {"a.jpg"}

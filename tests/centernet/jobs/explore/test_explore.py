"""The speed/accuracy explorer: the sweep, its cache and files, COCO evaluation, agreement, Pareto."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from centernet.jobs import explore as ex
from app.cli.explore import parse_flip, parse_res, parse_scales
from centernet.errors import ConfigError
from centernet.evaluation.metrics import coco_box_ap
from centernet.jobs.explore.pareto import pareto_front

from tests.conftest import DATA, ROOT, need

COCO_MINI = DATA / "coco_mini"


@pytest.fixture(scope="module")
def coco_gt() -> dict:
    return json.loads(need(COCO_MINI / "annotations" / "instances_val2017.json").read_text())


def gt_as_rows(gt: dict, shift: float = 0.0) -> list[dict]:
    """Every non-crowd annotation as a detection of score 1, moved right by `shift` of its width."""
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
             "bbox": [a["bbox"][0] + shift * a["bbox"][2], a["bbox"][1], a["bbox"][2], a["bbox"][3]]}
            for a in gt["annotations"] if not a.get("iscrowd", 0)]


# ---------------------------------------------------------------------------------- COCO evaluation
def test_ground_truth_fed_back_as_detections_gives_ap_one(coco_gt):
    metrics = coco_box_ap(coco_gt, gt_as_rows(coco_gt))
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AP50"] == pytest.approx(1.0) and metrics["AP75"] == pytest.approx(1.0)


def test_boxes_shifted_by_a_tenth_of_their_width_give_ap_0_7(coco_gt):
    # every match has IoU 0.9 / 1.1 = 0.818: a hit at IoU 0.50 ... 0.80 (7 of 10 thresholds), a miss above
    metrics = coco_box_ap(coco_gt, gt_as_rows(coco_gt, shift=0.1))
    assert metrics["AP"] == pytest.approx(0.7, abs=1e-3)
    assert metrics["AP50"] == pytest.approx(1.0) and metrics["AP75"] == pytest.approx(1.0)


def test_agreement_of_a_configuration_with_itself_is_one(coco_gt):
    rng = np.random.default_rng(0)
    rows = [{**r, "score": float(s)} for r, s in zip(gt_as_rows(coco_gt), rng.uniform(0.05, 0.95, 10_000))]
    sizes = [(i["id"], i["width"], i["height"]) for i in coco_gt["images"]]
    cats = sorted({c["id"] for c in coco_gt["categories"]})
    assert any(r["score"] < ex.AGREEMENT_THRESHOLD for r in rows)  # low-score rows are false positives, ranked last
    assert ex.agreement_ap(rows, rows, sizes, cats) == pytest.approx(1.0)
    shifted = [{**r, "bbox": [r["bbox"][0] + 0.1 * r["bbox"][2], *r["bbox"][1:]]} for r in rows]
    assert ex.agreement_ap(rows, shifted, sizes, cats) == pytest.approx(0.7, abs=1e-3)
    assert ex.agreement_ap([], rows, sizes, cats) is None  # nothing >= 0.3 in the reference: undefined


def test_keypoint_agreement_with_itself_is_one():
    rows = [{"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [10.0, 20.0, 60.0, 120.0],
             "keypoints": [v for j in range(17) for v in (12.0 + 3 * j, 25.0 + 6 * j, 0.8)]},
            {"image_id": 1, "category_id": 1, "score": 0.6, "bbox": [200.0, 40.0, 50.0, 100.0],
             "keypoints": [v for j in range(17) for v in (205.0 + 2 * j, 45.0 + 5 * j, 0.7)]}]
    assert ex.agreement_ap(rows, rows, [(1, 320, 240)], [1], keypoints=True) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------- Pareto front
def test_pareto_front_keeps_exactly_the_undominated_points():
    points = [(10.0, 30.0), (20.0, 25.0), (15.0, 20.0), (5.0, 40.0), (20.0, 10.0), (40.0, 5.0), (5.0, 30.0)]
    assert pareto_front(points) == [3, 0, 1, 5]  # by FPS; (15, 20) and (5, 30) are dominated, (20, 10) too


# ---------------------------------------------------------------------------------- grid and models
def test_cli_values_parse_into_a_typed_grid():
    assert parse_flip("off,on") == (False, True)
    assert parse_res("384,512") == (384, 512) and parse_res(None) == (None,)
    assert parse_scales(["1", "0.5,0.75,1,1.25,1.5"]) == ((1.0,), (0.5, 0.75, 1.0, 1.25, 1.5))
    with pytest.raises(ConfigError, match="precision"):
        ex.ExploreGrid(precision=("fp8",))
    with pytest.raises(ConfigError, match="arch"):
        ex.ExploreGrid(archs=("res_7",))
    with pytest.raises(ConfigError, match="multiples of 32"):
        ex.ExploreGrid(res=(500,))


def test_fp16_and_the_graph_engine_are_skipped_on_cpu_with_the_reason():
    src = ex.random_source("res_18")
    cpu = torch.device("cpu")
    assert "CUDA" in ex.skip_reason(ex.Config(src, (512, 512), "fp16"), cpu)
    assert "CUDA" in ex.skip_reason(ex.Config(src, (512, 512), engine="graph"), cpu)
    assert ex.skip_reason(ex.Config(src, (512, 512)), cpu) == ""
    assert ex.skip_reason(ex.Config(src, (512, 512), "bf16"), cpu) == ""  # bf16 runs on a CPU
    assert ex.skip_reason(ex.Config(src, (512, 512), engine="onnxruntime"), cpu) == ""
    assert "fp32" in ex.skip_reason(ex.Config(src, (512, 512), "bf16", engine="onnxruntime"), cpu)
    assert "one fixed input size" in ex.skip_reason(ex.Config(src, (512, 512), scales=(0.5, 1.0), engine="onnxruntime"), cpu)


def test_cpu_engines_and_bf16_configurations_run_against_the_fp32_eager_reference(weights_dir, tmp_path,
                                                                                  monkeypatch):
    need(COCO_MINI)
    pytest.importorskip("openvino", reason="openvino is not installed")
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))  # the onnx / OpenVINO conversion caches
    grid = ex.ExploreGrid(res=(160,), precision=("fp32", "bf16"), engine=("eager", "onnxruntime", "openvino"))
    options = ex.ExploreOptions(tmp_path / "out", weights_dir=weights_dir, data=COCO_MINI, max_images=3,
                                defaults=False, warmup=1)
    report = ex.explore(grid, options, say=lambda *_: None)
    assert report.counts == {"ran": 5, "cached": 0, "skipped": 1, "failed": 0}  # onnxruntime bf16 skipped
    by = {(o.config.precision, o.config.engine): o for o in report.outcomes}
    assert by[("fp32", "eager")].agreement == pytest.approx(1.0)  # the reference
    for engine in ("onnxruntime", "openvino"):                    # the same fp32 model through another runtime
        assert by[("fp32", engine)].agreement >= 0.99, engine
        assert by[("fp32", engine)].stages["net"]["median"] > 0
    assert by[("bf16", "openvino")].status == "ok" and by[("bf16", "openvino")].agreement is not None
    assert by[("bf16", "eager")].status == "ok" and by[("bf16", "eager")].agreement is not None


def test_reference_is_the_most_expensive_configuration():
    src = ex.random_source("res_18")
    configs = [ex.Config(src, (512, 512), "fp16", True), ex.Config(src, (512, 512), "fp32", True),
               ex.Config(src, (640, 640)), ex.Config(src, (384, 384), scales=(0.5, 1.0, 1.5))]
    assert max(configs, key=lambda c: c.reference_rank()) == configs[1]  # 2 x 512^2 > 640^2; fp32 over fp16


def test_default_models_take_part_by_default():
    from centernet.models.zoo import DEFAULT_MODELS
    sources = ex.find_models(None, None, defaults=True)
    assert {s.task for s in sources} == set(DEFAULT_MODELS)
    assert all(s.origin == "default model" for s in sources)
    assert all(s.error or s.real for s in sources)


def test_archs_without_weights_get_seeded_random_weights_with_real_looking_outputs():
    (src,) = ex.find_models(None, ("res_18",), defaults=False)
    assert not src.real and src.origin == "random weights"
    model, info = ex.random_model("res_18")
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
    scores = torch.sigmoid(out["hm"])
    assert scores.max() > 0.5 and scores.std() > 0.05  # peaks to compare, not the flat prior
    assert out["wh"].mean() > 2  # boxes of a few cells, not points
    model2, _ = ex.random_model("res_18")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))


def test_without_data_the_sweep_uses_frames_spread_over_the_demo_clip():
    images = ex.load_images(None, {"ctdet"}, 3)
    assert len(images.images) == 3 and images.gt == {} and "agreement only" in images.notes[0]
    assert all(f.shape == images.images[0].shape and f.dtype == np.uint8 for f in images.images)
    assert not np.array_equal(images.images[0], images.images[-1])  # not three neighbouring frames
    assert images.fingerprint == ex.load_images(None, {"ctdet"}, 3).fingerprint


# ---------------------------------------------------------------------------------- the sweep
@pytest.fixture
def weights_dir(tmp_path, seeded_checkpoint):
    folder = tmp_path / "zoo"
    folder.mkdir()
    shutil.copy(seeded_checkpoint("ctdet", "res_18"), folder / "ctdet_res_18.pth")
    return folder


def test_two_by_two_grid_runs_writes_every_file_and_a_rerun_only_runs_what_is_new(weights_dir, tmp_path,
                                                                                  monkeypatch):
    need(COCO_MINI)
    out = tmp_path / "explore"
    calls = []
    real_run = ex.run_config
    monkeypatch.setattr(ex.sweep, "run_config", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))
    grid = ex.ExploreGrid(res=(128, 160), flip=(False, True))
    report = ex.explore(grid, ex.ExploreOptions(out, weights_dir=weights_dir, data=COCO_MINI, max_images=4,
                                                defaults=False, warmup=1, paper=True),
                        say=lambda *_: None)
    assert report.counts == {"ran": 4, "cached": 0, "skipped": 0, "failed": 0}
    assert len(calls) == 4
    ok = [o for o in report.outcomes if o.status == "ok"]
    assert len(ok) == 4 and all(o.images == 4 and o.fps > 0 for o in ok)
    assert all({"pre", "net", "decode", "post", "total"} <= set(o.stages) for o in ok)
    assert all(o.stages["net"]["median"] <= o.stages["net"]["p90"] for o in ok)
    assert all(o.box is not None and 0.0 <= o.box["AP"] <= 1.0 for o in ok)  # real weights, ground truth given
    ref = [o for o in ok if o.config.input_size == (160, 160) and o.config.flip]
    assert ref[0].agreement == pytest.approx(1.0) and all(o.reference == "160 flip" for o in ok)
    assert any(o.pareto for o in ok)

    for name in ("results.csv", "results.json", "results.md", "pareto.png", "pareto.svg"):
        assert (out / name).stat().st_size > 0, name
    png = cv2.imread(str(out / "pareto.png"))
    assert png is not None and png.shape[0] > 300 and png.shape[1] > 600
    assert (out / "pareto.svg").read_text().lstrip().startswith("<?xml")
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["input"] for r in rows} == {"128", "160"} and {r["flip"] for r in rows} == {"0", "1"}
    assert all(float(r["fps"]) > 0 and r["net_p90_ms"] for r in rows)
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["results"]) == 4 and saved["meta"]["paper"][0]["fps"] == 142.0
    assert "rows" not in saved["results"][0]  # detections stay in the cache
    table = (out / "results.md").read_text()
    assert "| ★ |" in table and "100.0 (ref)" in table

    # a larger grid: the four configurations measured already come from the cache, fp16 is skipped on CPU
    calls.clear()
    grid = ex.ExploreGrid(res=(128, 160), flip=(False, True), precision=("fp32", "fp16"))
    again = ex.explore(grid, ex.ExploreOptions(out, weights_dir=weights_dir, data=COCO_MINI, max_images=4,
                                               defaults=False, warmup=1), say=lambda *_: None)
    assert calls == []
    assert again.counts == {"ran": 0, "cached": 4, "skipped": 4, "failed": 0}
    cached = {o.config.label(): o for o in again.outcomes if o.status == "ok"}
    for o in ok:
        assert cached[o.config.label()].fps == o.fps and cached[o.config.label()].box == o.box
    assert all("CUDA" in o.reason for o in again.outcomes if o.status == "skipped")


def test_a_failing_configuration_is_recorded_and_the_sweep_goes_on(weights_dir, tmp_path):
    need(COCO_MINI)
    (weights_dir / "broken.pth").write_bytes(b"not a checkpoint")
    torch.save({"state_dict": {"hm.2.weight": torch.zeros(3, 8, 1, 1)}}, weights_dir / "odd.pth")
    report = ex.explore(ex.ExploreGrid(res=(128,)),
                        ex.ExploreOptions(tmp_path / "out", weights_dir=weights_dir, data=COCO_MINI, max_images=1,
                                          defaults=False, warmup=0), say=lambda *_: None)
    by_model = {o.config.model.name: o for o in report.outcomes}
    assert by_model["broken"].status == "failed" and "broken.pth" in by_model["broken"].reason
    assert by_model["odd"].status == "failed" and by_model["odd"].reason
    assert by_model["ctdet_res_18"].status == "ok", by_model["ctdet_res_18"].reason
    assert report.counts["failed"] == 2 and report.counts["ran"] == 1
    assert (tmp_path / "out" / "results.md").read_text().count("failed") >= 2


def test_explore_command_runs_in_a_subprocess(weights_dir, tmp_path):
    need(COCO_MINI)
    out = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "main.py", "explore", "--weights-dir", str(weights_dir), "--res", "128",
                           "--precision", "fp32,fp16", "--data", str(COCO_MINI), "--max-images", "2", "--warmup", "0",
                           "--out", str(out), "--no-defaults", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Pareto-optimal by box AP" in proc.stdout and "fp16 needs a CUDA GPU" in proc.stdout
    assert cv2.imread(str(out / "pareto.png")) is not None
    rows = list(csv.DictReader(open(out / "results.csv", newline="")))
    assert [r["status"] for r in rows] == ["ok", "skipped"]


def test_explore_command_reports_a_bad_option_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "main.py", "explore", "--precision", "fp8", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "fp8" in proc.stderr


# ---------------------------------------------------------------------------------- tracking ground truth
VTEST = DATA / "video" / "vtest.avi"
TUD_GT = DATA / "mot" / "TUD-Campus" / "gt.txt"


def test_perfect_person_detections_track_almost_perfectly_and_other_models_are_not_scored():
    from centernet.detections import Detections
    from centernet.io.mot_files import read_mot_tracks
    from centernet.jobs.explore.run import tracking_scores

    gt = read_mot_tracks(need(TUD_GT), ground_truth=True)
    frames = []
    for n in range(1, int(gt[:, 0].max()) + 1):
        rows = gt[gt[:, 0] == n]
        frames.append(Detections(torch.tensor(rows[:, 2:6], dtype=torch.float32), torch.full((len(rows),), 0.9),
                                 torch.zeros(len(rows), dtype=torch.int64)))
    scores, note = tracking_scores(frames, ("person", "bicycle"), gt)
    # every box found: MOTA loses only the frame each track waits to be confirmed; one crossing, where two
    # people's boxes overlap almost whole, costs one switch (and IDF1 the frames after it)
    assert note == "" and scores["MOTA"] > 0.95 and scores["IDsw"] <= 1
    assert scores["HOTA"] > 0.85 and scores["IDF1"] > 0.85
    wrong_class = [d.map(lambda t: t) for d in frames]
    for d in wrong_class:
        d.labels = torch.ones_like(d.labels)                        # all bicycles: nothing for the tracker
    assert tracking_scores(wrong_class, ("person", "bicycle"), gt)[0]["MOTA"] == 0.0
    assert tracking_scores(frames, ("car",), gt) == (None, "no person class to compare with the sequence's "
                                                           "tracks: agreement only")


@pytest.fixture(scope="module")
def mot_sequence(tmp_path_factory):
    """12 real frames of vtest.avi as a MOTChallenge sequence; its "ground truth" the default model's own
    tracks at its input size 512 (the data has no human tracks with images)."""
    from centernet.inference.config import DetectorConfig
    from centernet.inference.detector import Detector
    from centernet.tracking import make_tracker, track_detections

    folder = tmp_path_factory.mktemp("seq") / "vtest-12"
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    cap = cv2.VideoCapture(str(need(VTEST)))
    detector, tracker, lines = Detector.from_config(DetectorConfig(device="cpu")), make_tracker(), []
    for n in range(1, 13):
        ok, image = cap.read()
        assert ok
        cv2.imwrite(str(folder / "img1" / f"{n:06d}.png"), image)     # lossless: explore sees these very pixels
        tracked = track_detections(tracker, detector(image), 0.3, {0})
        for (x1, y1, x2, y2), tid in zip(tracked.boxes.tolist(), tracked.track_ids.tolist()):
            if tid > 0:
                lines.append(f"{n},{tid},{x1:.3f},{y1:.3f},{x2 - x1:.3f},{y2 - y1:.3f},1,1,1")
    cap.release()
    (folder / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_a_sequence_s_frames_stay_on_disk_and_read_as_held_frames_would(mot_sequence):
    """A MOTChallenge sequence (and an image folder) is read frame by frame when used, never held, with
    the same pixels, sizes and cache fingerprint as the frames decoded up front."""
    from centernet.jobs.explore.images import ImageFiles, ImageSet, _fingerprinted, load_images
    images = load_images(mot_sequence, ["ctdet"])
    assert isinstance(images.images, ImageFiles) and len(images.images) == 12
    files = sorted((mot_sequence / "img1").glob("*.png"))
    held = [cv2.imread(str(f)) for f in files]
    assert all(np.array_equal(images.images[i], held[i]) for i in (0, 5, -1))
    assert images.sizes() == [(n, 768, 576) for n in range(1, 13)]
    twin = _fingerprinted(ImageSet(images.name, held, images.image_ids, track_gt=images.track_gt))
    assert twin.fingerprint == images.fingerprint     # explore's cache keys do not change
    folder = load_images(mot_sequence / "img1", ["ctdet"], max_images=3)
    assert isinstance(folder.images, ImageFiles) and [f.name for f in folder.images.files] == [f.name for f in files[:3]]
    with pytest.raises(IndexError):
        folder.images[3]


def test_explore_on_a_mot_sequence_scores_tracking_and_finds_the_front(mot_sequence, tmp_path):
    out = tmp_path / "explore"
    proc = subprocess.run([sys.executable, "main.py", "explore", "--data", str(mot_sequence), "--res", "512,256",
                           "--warmup", "0", "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = {(r["model"], r["input_size"][0]): r for r in json.loads((out / "results.json").read_text())["results"]}
    own = results[("centernet_mobilenetv3", 512)]      # the configuration that made the ground truth
    small = results[("centernet_mobilenetv3", 256)]
    assert own["metric"] == "HOTA" and own["tracking"]["IDsw"] == 0
    assert own["tracking"]["HOTA"] > 0.9 and own["tracking"]["IDF1"] > 0.9
    assert small["tracking"]["HOTA"] < own["tracking"]["HOTA"]
    assert "Pareto-optimal by HOTA" in proc.stdout
    table = (out / "results.md").read_text()
    assert "| HOTA | IDF1 | MOTA | IDsw |" in table and "(ground-truth tracks)" in table
    header = next(csv.reader((out / "results.csv").open()))
    assert {"track_HOTA", "track_IDF1", "track_MOTA", "track_IDsw"} <= set(header)

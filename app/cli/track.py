"""`main.py track DETECTIONS --out TRACKS` (re-track saved detections) and `main.py track-eval TRACKS --gt GT`
(HOTA, IDF1, MOTA, ID switches): argument parsing and printing only."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.options import JSON, OUT, TRACKER
from centernet.evaluation.tracking import evaluate_tracks
from centernet.io.detection_files import read_detection_file
from centernet.tracking import make_tracker
from centernet.tracking.retrack import retrack
from centernet.io.writers.atomic import atomic_file, ensure_writable_file
from centernet.io.writers.mot import write_mot


def add_parser(sub) -> None:
    p = sub.add_parser("track", help="track saved detections (MOTChallenge .txt, COCO results .json, annotate .csv) "
                                     "into MOTChallenge tracks, without running the detector")
    p.add_argument("detections", type=Path, help="frame,-1,x,y,w,h,score,... rows (frames from 1), or .json / .csv")
    OUT.add(p, required=True, help="MOTChallenge tracks file to write (frame,id,x,y,w,h,score)")
    TRACKER.add(p)
    p.set_defaults(func=run_track)

    p = sub.add_parser("track-eval", help="HOTA, IDF1, MOTA and ID switches of MOTChallenge tracks against "
                                          "ground truth")
    p.add_argument("tracks", type=Path, help="MOTChallenge tracks (frame,id,x,y,w,h,...)")
    p.add_argument("--gt", type=Path, required=True, help="MOTChallenge ground truth (gt.txt)")
    JSON.add(p, help="also write the figures to this JSON file")
    p.set_defaults(func=run_eval)


def run_track(args) -> int:
    ensure_writable_file(args.out, "--out")   # a folder or unwritable place: said before the work, as detect does
    frames = read_detection_file(args.detections, warn=lambda line: print(line, file=sys.stderr))
    records = retrack(frames, make_tracker(args.tracker))
    rows = write_mot(args.out, records)
    tracks = {int(t) for r in records for t in r.dets.track_ids.tolist() if t > 0}
    print(f"{len(records)} frames, {sum(len(r.dets) for r in records)} detections -> {rows} tracked rows, "
          f"{len(tracks)} tracks ({args.tracker}): {args.out}")
    return 0


def run_eval(args) -> int:
    scores = evaluate_tracks(args.tracks, args.gt)
    print(f"{'HOTA':>6} {'DetA':>6} {'AssA':>6} {'IDF1':>6} {'MOTA':>6} {'IDsw':>5} {'Frag':>5} {'tracks':>11}")
    print(f"{scores.hota:6.3f} {scores.det_a:6.3f} {scores.ass_a:6.3f} {scores.idf1:6.3f} {scores.mota:6.3f} "
          f"{scores.id_switches:5d} {scores.fragmentations:5d} {scores.predicted_tracks:4d} / {scores.gt_tracks:<4d}"
          f"  ({scores.frames} frames)")
    if args.json:
        with atomic_file(args.json) as f:
            json.dump({"tracks": str(args.tracks), "gt": str(args.gt), **scores.as_dict()}, f, indent=1)
        print(f"wrote {args.json}")
    return 0

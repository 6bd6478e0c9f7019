"""Box / keypoint AP on coco_mini and CPU latency of the shipped default models (docs/default-models.md).

    python tools/measure_default_models.py                 # both models, their recorded pre-processing
    python tools/measure_default_models.py --variants      # also the other input sizes / resize modes
    python tools/measure_default_models.py --latency 30    # only timing: median of 30 runs on a 1280x720 frame

AP: pycocotools on ../shared/data/coco_mini (every detection kept: 100 boxes or 6 people per image).
Latency: mean per image of the Detector's pre, net, decode and post stages (ms), eager torch on the
CPU with the given number of threads, after one warm-up image. `--latency N` times N runs on
one 1280x720 photo (zidane.jpg) instead and reports the median of each stage: steadier on a busy machine.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from centernet.classes import COCO_CATEGORY_IDS  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402

COCO_MINI = ROOT.parent / "shared" / "data" / "coco_mini"


def coco_eval(gt_file: Path, results: list, iou_type: str) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        if not results:
            return {"AP": 0.0}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl"] if iou_type == "bbox" else ["AP", "AP50", "AP75", "APm", "APl"]
    return {n: round(float(v), 4) for n, v in zip(names, ev.stats)}


def run(detector: Detector, task: str) -> tuple[dict, dict]:
    name = "instances_val2017.json" if task == "ctdet" else "person_keypoints_val2017.json"
    gt_file = COCO_MINI / "annotations" / name
    images = json.loads(gt_file.read_text())["images"]
    results, times = [], []
    detector(cv2.imread(str(COCO_MINI / "val2017" / images[0]["file_name"])))  # warm-up
    for info in images:
        dets = detector(cv2.imread(str(COCO_MINI / "val2017" / info["file_name"])))
        times.append(dets.timings)
        d = dets.numpy()
        for i in range(len(dets)):
            x1, y1, x2, y2 = (float(v) for v in d["boxes"][i])
            if task == "ctdet":
                results.append({"image_id": info["id"], "category_id": COCO_CATEGORY_IDS[int(d["labels"][i])],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(d["scores"][i])})
            else:
                kps = np.concatenate([d["keypoints"][i], d["keypoint_scores"][i][:, None]], axis=1)
                results.append({"image_id": info["id"], "category_id": 1, "keypoints": kps.ravel().tolist(),
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(d["scores"][i])})
    ap = coco_eval(gt_file, results, "bbox" if task == "ctdet" else "keypoints")
    if task == "multi_pose":
        ap["box_AP"] = coco_eval(gt_file, results, "bbox")["AP"]
    stages = {k: round(float(np.mean([t.get(k, 0.0) for t in times])), 1) for k in times[0]}
    return ap, stages


def latency(detector: Detector, runs: int) -> dict:
    frame = cv2.imread(str(ROOT.parent / "shared" / "data" / "images" / "zidane.jpg"))
    for _ in range(3):
        detector(frame)
    times = [detector(frame).timings for _ in range(runs)]
    stages = {k: round(float(np.median([t.get(k, 0.0) for t in times])), 1) for k in times[0]}
    totals = [sum(t.values()) for t in times]
    stages["total_median"] = round(float(np.median(totals)), 1)
    stages["total_min"] = round(float(np.min(totals)), 1)
    return stages


@torch.inference_mode()
def cpu_cost(detector: Detector, runs: int) -> dict:
    """Median process CPU time (ms) per stage, one torch thread: the compute cost, steady on a busy
    machine where wall-clock latency is not. Two threads cannot do better than half of it."""
    from centernet.geometry.transforms import preprocess
    frame = cv2.imread(str(ROOT.parent / "shared" / "data" / "images" / "zidane.jpg"))
    rows = []
    for i in range(runs + 3):
        t0 = time.process_time()
        x, tf = preprocess(frame, detector.spec)
        t1 = time.process_time()
        out = detector.model(x)
        t2 = time.process_time()
        dets = detector.decode(out)[0]
        t3 = time.process_time()
        detector.to_image(dets, tf)
        t4 = time.process_time()
        if i >= 3:
            rows.append([t1 - t0, t2 - t1, t3 - t2, t4 - t3])
    med = np.median(np.array(rows) * 1000, axis=0)
    return {k: round(float(v), 1) for k, v in zip(["pre", "net", "decode", "post"], med)} | \
        {"total": round(float(med.sum()), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", action="store_true", help="also other input sizes / resize modes")
    parser.add_argument("--task", choices=["ctdet", "multi_pose"], action="append")
    parser.add_argument("--latency", type=int, metavar="N", help="only time N runs on one frame")
    parser.add_argument("--cpu-time", type=int, metavar="N", help="only CPU time of N runs, 1 thread")
    parser.add_argument("--input-size", type=int, help="square input size (default: the checkpoint's)")
    args = parser.parse_args(argv)
    if not COCO_MINI.exists():
        sys.exit(f"{COCO_MINI} not found: the measurements need ../shared/data")
    torch.set_num_threads(args.threads)
    for task in args.task or ["ctdet", "multi_pose"]:
        base = Detector.from_checkpoint(None, task=task, device="cpu")
        if args.input_size:
            base.spec = base.spec.with_input_size(args.input_size, args.input_size)
        if args.cpu_time:
            torch.set_num_threads(1)
            print(json.dumps({"task": task, "input": list(base.spec.input_size), "threads": 1,
                              "runs": args.cpu_time, "cpu_ms": cpu_cost(base, args.cpu_time)}), flush=True)
            continue
        if args.latency:
            print(json.dumps({"task": task, "input": list(base.spec.input_size), "threads": args.threads,
                              "runs": args.latency, "ms": latency(base, args.latency)}), flush=True)
            continue
        specs = [("recorded", base.spec)]
        if args.variants and task == "ctdet":
            specs += [("stretch 512", replace(base.spec, resize="stretch")),
                      ("pad_square 640", base.spec.with_input_size(640, 640)),
                      ("pad_square 384", base.spec.with_input_size(384, 384))]
        if args.variants and task == "multi_pose":
            specs += [(f"pad_square {s}", base.spec.with_input_size(s, s)) for s in (256, 320, 512)]
        for label, spec in specs:
            base.spec = spec
            t0 = time.time()
            ap, stages = run(base, task)
            print(json.dumps({"task": task, "variant": label, "resize": spec.resize, "input": list(spec.input_size),
                              "ap": ap, "ms": stages, "threads": args.threads,
                              "wall_s": round(time.time() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does batching pay on this CPU, engine by engine? (issue 33: the multi-stream model thread batches where it
measured faster, else runs streams one by one.)

Times `Detector.detect_batch` (the path the live model thread uses: pre-processing, the backend's forward,
decode, boxes back in image pixels) on real demo-clip frames at batch 1, 4 and 8 for every CPU engine the
registry offers here, at each of its CPU precisions. Interleaved: each round times every engine at every
batch size on the same frames (the batch order reversed every other round), so load changes hit all rows
alike; the figure is the median over rounds of ms per frame. It also says how each backend runs a batch: the
ONNX export has a fixed batch of 1, so onnxruntime and openvino split a batch into single forwards
("splits"), while the torch engines run it in one. `--reshaped` adds OpenVINO rows whose export is recompiled
here at each batch size (the same export, its batch fixed to 1, 4 or 8): what a batched export would buy.

    python tools/batch_gain.py --batches 1,4,8 --rounds 3 [--json batch_gain.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from centernet import Detector  # noqa: E402  (sets OMP_WAIT_POLICY before torch starts its threads)
from centernet.errors import CenterNetError  # noqa: E402
from centernet.inference.backends.registry import BACKENDS  # noqa: E402

DEFAULT_WEIGHTS = ROOT / "assets" / "models" / "centernet_mobilenetv3.pth"
DEMO = ROOT / "assets" / "demo" / "bikes.mp4"
GAIN = 0.9    # "gains": ms per frame at batch 4 below 0.9x of batch 1
RESHAPED = "openvino-batched"


@dataclass(frozen=True)
class Config:
    engine: str
    precision: str


@dataclass
class Row:
    engine: str
    precision: str
    runs_batch: str                  # "whole" (one forward per batch) or "splits" (one forward per frame)
    ms_per_frame: dict[int, float]   # batch size -> median over rounds
    note: str = ""
    batch_vs_single_px: float | None = None   # largest box corner difference (score >= 0.3), batched vs alone

    def ratio(self, batch: int) -> float | None:
        base = self.ms_per_frame.get(1)
        return self.ms_per_frame[batch] / base if base and batch in self.ms_per_frame else None

    def gains(self, batch: int = 4) -> bool | None:
        r = self.ratio(batch)
        return None if r is None else r < GAIN


def cpu_configs(engines: list[str] | None = None) -> list[Config]:
    """Every (engine, precision) the registry runs on a CPU (fp16 is a GPU precision)."""
    names = engines or [n for n, k in BACKENDS.items() if "cpu" in k.devices]
    return [Config(n, p) for n in names if n in BACKENDS for p in BACKENDS[n].precisions if p in ("fp32", "bf16")]


def fixed_batch(backend) -> int | None:
    """The batch size a backend's compiled model is fixed to (it splits bigger batches), None when it takes any."""
    model = getattr(backend, "model", None) or getattr(backend, "session", None)
    shape = getattr(model, "fixed_batch", None)
    if shape is not None:                       # OpenVINO: a partial dimension
        return shape.get_length() if shape.is_static else None
    session = getattr(model, "session", None)   # ONNX Runtime: an int, or a name for a dynamic axis
    if session is not None:
        dim = session.get_inputs()[0].shape[0]
        return dim if isinstance(dim, int) else None
    return None                                 # torch: the whole batch in one forward


def compile_batch(detector: Detector, batch: int) -> tuple:
    """An openvino Detector's export recompiled with its batch fixed to `batch` (same export, same settings):
    what a batched export would run. Benchmark-only; `use_compiled` swaps it into the backend."""
    import openvino as ov
    from centernet.inference.onnx_export import cached_onnx_path
    from centernet.inference.openvino_engine import add_peak_outputs, openvino_onnx_path
    model = detector.backend.model
    core = ov.Core()
    graph = core.read_model(str(openvino_onnx_path(cached_onnx_path(detector.model, detector.info,
                                                                    tuple(detector.spec.input_size)))))
    w, h = detector.spec.input_size
    graph.reshape({graph.inputs[0].get_any_name(): ov.PartialShape([batch, 3, h, w])})
    add_peak_outputs(graph, detector.k)
    config = {k: model.compiled.get_property(k) for k in ("PERFORMANCE_HINT", "NUM_STREAMS",
                                                          "INFERENCE_PRECISION_HINT", "INFERENCE_NUM_THREADS")}
    config["ENABLE_CPU_PINNING"] = False
    compiled = core.compile_model(graph, model.device, config)
    return compiled, compiled.inputs[0].get_partial_shape()[0]


def use_compiled(detector: Detector, compiled: tuple) -> None:
    model = detector.backend.model
    model.compiled, model.fixed_batch = compiled     # its infer requests follow the compiled model


def read_frames(path: Path, count: int, start: int = 30) -> list:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if len(frames) < count:
        raise SystemExit(f"error: {path} gave {len(frames)} frames, {count} needed")
    return frames


def box_difference(a: list, b: list, threshold: float = 0.3) -> float:
    """Largest box corner difference in pixels between two lists of Detections (inf when counts differ)."""
    worst = 0.0
    for x, y in zip(a, b):
        x, y = x.above(threshold), y.above(threshold)
        if len(x) != len(y):
            return float("inf")
        if len(x):
            worst = max(worst, float((x.boxes - y.boxes).abs().max()))
    return worst


def time_per_frame(detector: Detector, frames: list, batch: int) -> float:
    """ms per frame to detect every frame in batches of `batch` (len(frames) a multiple of it)."""
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        detector.detect_batch(frames[i:i + batch])
    return (time.perf_counter() - start) * 1000.0 / len(frames)


def build(config: Config, weights: Path, batches: list[int]) -> tuple[Detector | None, dict, str]:
    """The Detector (None when this engine cannot run here), its per-batch compiled models (RESHAPED), a note."""
    try:
        engine = "openvino" if config.engine == RESHAPED else config.engine
        det = Detector.from_checkpoint(weights, device="cpu", engine=engine, precision=config.precision)
        compiled = {b: compile_batch(det, b) for b in batches} if config.engine == RESHAPED else {}
        return det, compiled, ""
    except (CenterNetError, ImportError, RuntimeError) as e:
        return None, {}, "skipped: " + str(e).strip().splitlines()[-1]


def measure(configs: list[Config], weights: Path, batches: list[int], rounds: int, frames: list,
            log=print) -> list[Row]:
    detectors, compiled, rows = {}, {}, {}
    for c in configs:
        det, compiled[c], note = build(c, weights, batches)
        runs = "-" if det is None else "whole" if compiled[c] or fixed_batch(det.backend) is None else "splits"
        rows[c] = Row(c.engine, c.precision if det is None else det.backend.precision, runs, {}, note)
        if det is not None:
            detectors[c] = det
            results = {}
            for b in batches:   # warm-up: the first run at each batch size allocates
                if compiled[c]:
                    use_compiled(det, compiled[c][b])
                results[b] = det.detect_batch(frames[:b])
            rows[c].batch_vs_single_px = box_difference(results[max(batches)][:1], results[min(batches)][:1])
        log(f"# built {c.engine} {c.precision}: {note or det.engine_summary}")
    times: dict[Config, dict[int, list[float]]] = {c: {b: [] for b in batches} for c in detectors}
    for r in range(rounds):
        for c, det in detectors.items():
            for b in batches if r % 2 == 0 else batches[::-1]:   # alternate the order: drift hits both ends
                if compiled[c]:
                    use_compiled(det, compiled[c][b])
                times[c][b].append(time_per_frame(det, frames, b))
        log(f"# round {r + 1}/{rounds} done, load average {os.getloadavg()[0]:.2f}")
    for c, per_batch in times.items():
        rows[c].ms_per_frame = {b: statistics.median(v) for b, v in per_batch.items()}
    return list(rows.values())


def format_table(rows: list[Row], batches: list[int]) -> str:
    head = ["engine", "precision", "batch run as", *(f"batch {b} ms/frame" for b in batches),
            *(f"{b} vs 1" for b in batches if b != 1), "boxes batched vs alone", "gains at 4"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        ms = [f"{r.ms_per_frame[b]:.1f}" if b in r.ms_per_frame else "-" for b in batches]
        ratios = [f"{r.ratio(b):.2f}x" if r.ratio(b) is not None else "-" for b in batches if b != 1]
        gain = {True: "yes", False: "no", None: "-"}[r.gains(4)] if 4 in batches else "-"
        if gain == "yes" and r.runs_batch == "splits":   # the same single forwards: not the network's gain
            gain = "yes, but it splits (pre/decode, or noise)"
        diff = f"{r.batch_vs_single_px:.2g} px" if r.batch_vs_single_px is not None else "-"
        lines.append("| " + " | ".join([r.engine, r.precision, r.runs_batch, *ms, *ratios, diff,
                                        gain if not r.note else r.note]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--video", type=Path, default=DEMO, help="frames from this clip (default: the demo clip)")
    p.add_argument("--batches", default="1,4,8")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=0, help="frames per round (default: the largest batch)")
    p.add_argument("--engines", default="", help="comma-separated (default: every CPU engine of the registry)")
    p.add_argument("--reshaped", action="store_true",
                   help=f"add '{RESHAPED}': the openvino export recompiled here at each batch size")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    batches = sorted({int(v) for v in args.batches.split(",") if v.strip()})
    count = args.frames or max(batches)
    if any(count % b for b in batches):
        p.error(f"--frames {count} must be a multiple of every batch size {batches}")
    configs = cpu_configs([e.strip() for e in args.engines.split(",") if e.strip()] or None)
    if args.reshaped:
        configs += [Config(RESHAPED, p) for p in ("fp32", "bf16")]
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, load average before: {open('/proc/loadavg').read().strip()}")
    frames = read_frames(args.video, count)
    rows = measure(configs, args.weights, batches, args.rounds, frames)
    print(f"# load average after: {open('/proc/loadavg').read().strip()}")
    print(format_table(rows, batches))
    gaining = [f"{r.engine} {r.precision}" + (" (splits)" if r.runs_batch == "splits" else "")
               for r in rows if r.gains(4)]
    print(f"# batch where it gains (ms/frame at 4 < {GAIN}x of 1): {', '.join(gaining) or 'none'}")
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps({"batches": batches, "rounds": args.rounds, "frames": count,
                                   "rows": [asdict(r) for r in rows]}, indent=1))
        tmp.replace(args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

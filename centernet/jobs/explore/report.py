"""The files of an `explore` sweep: results.csv, results.json, results.md, pareto.png / .svg, and the
summary printed at the end (the Pareto-optimal configurations)."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import torch

from centernet.io.writers.atomic import atomic_file, write_json_atomic
from centernet.jobs.explore.agreement import AGREEMENT_THRESHOLD
from centernet.jobs.explore.grid import scales_text, size_text
from centernet.jobs.explore.outcome import BOX_KEYS, KEYPOINT_KEYS, STAGE_ORDER, TRACK_KEYS, ExploreReport, Outcome
from centernet.jobs.explore.pareto import Panel, PlotPoint, ReferencePoint, plot_pareto

# The original paper's headline numbers (Zhou et al., "Objects as Points", Titan Xp, COCO test-dev)
PAPER_NAME = "paper (Titan Xp)"
PAPER_POINTS = (("ResDCN-18", 142.0, 28.1), ("DLA-34", 52.0, 37.4), ("Hourglass-104 multi-scale", 1.4, 45.1))


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _ms(stages: dict, stage: str, which: str = "median") -> float | None:
    return stages.get(stage, {}).get(which)


def stage_names(outcomes) -> list[str]:
    seen = {s for o in outcomes for s in o.stages if s != "total"}
    return [s for s in STAGE_ORDER if s in seen] + sorted(seen - set(STAGE_ORDER))


def csv_rows(outcomes: list[Outcome]) -> tuple[list[str], list[list]]:
    stages = ["total"] + stage_names(outcomes)
    header = ["model", "arch", "task", "weights", "weights_path", "input", "precision", "flip", "scales", "engine",
              "status", "reason", "fps"]
    for s in stages:
        header += [f"{s}_median_ms", f"{s}_p90_ms", f"{s}_p99_ms"]
    header += [f"box_{k}" for k in BOX_KEYS] + [f"kp_{k}" for k in KEYPOINT_KEYS]
    header += [f"track_{k}" for k in TRACK_KEYS]
    header += ["agreement", "agreement_reference", "metric", "accuracy", "pareto", "images", "cached", "gt_note"]
    rows = []
    for o in outcomes:
        c = o.config
        row = [c.model.name, c.model.arch, c.model.task, c.model.origin, str(c.model.path or ""),
               size_text(c.input_size), c.precision, int(c.flip), scales_text(c.scales), c.engine, o.status,
               o.reason, o.fps]
        for s in stages:
            row += [_ms(o.stages, s, w) for w in ("median", "p90", "p99")]
        row += [(o.box or {}).get(k) for k in BOX_KEYS] + [(o.keypoints or {}).get(k) for k in KEYPOINT_KEYS]
        row += [(o.tracking or {}).get(k) for k in TRACK_KEYS]
        kind, value = o.metric
        row += [o.agreement, o.reference, kind if o.status == "ok" else "", value, int(o.pareto), o.images,
                int(o.cached), o.gt_note]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def ground_truth_text(images) -> str:
    if images.gt:
        return f" (ground truth for {', '.join(sorted(images.gt))})"
    return " (ground-truth tracks)" if images.track_gt is not None else " (no ground truth)"


def markdown_table(report: ExploreReport, data) -> str:
    outcomes = report.outcomes
    stages = stage_names(outcomes)
    lines = ["# CenterNet Live: speed / accuracy sweep", "",
             f"- device: {report.device}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}",
             f"- images: {report.images.name}" + ground_truth_text(report.images),
             "- latency per image (batch 1), in ms: median / p90 after warm-up; FPS = 1000 / median total",
             "- AP: COCO AP against the data's ground truth (box AP; keypoint AP for multi_pose), in %",
             "- tracking (a MOTChallenge sequence): HOTA, IDF1, MOTA in % and ID switches of the default tracker "
             "(ByteTrack) on each configuration's person detections >= 0.3, as annotate --track",
             f"- agreement: COCO AP (%) against the reference configuration of the same weights (marked ref), "
             f"its detections >= {AGREEMENT_THRESHOLD} taken as ground truth; keypoint AP for multi_pose",
             "- weights \"random\": the arch with seeded random weights: speed and agreement only, no AP",
             "- ★: Pareto-optimal (no other configuration is both faster and more accurate), per accuracy kind",
             ""]
    for note in report.images.notes:
        lines.append(f"- note: {note}")
    if report.images.notes:
        lines.append("")
    head = ["", "model", "arch", "weights", "input", "prec", "flip", "scales", "engine", "FPS", "total"] + stages + \
        ["AP", "AP50", "AP75", "APs", "APm", "APl", "kp AP"] + \
        (["HOTA", "IDF1", "MOTA", "IDsw"] if report.images.track_gt is not None else []) + ["agreement", "status"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" if i < 9 else "---:" for i in range(len(head))) + "|")
    for o in outcomes:
        c = o.config
        ok = o.status == "ok"
        weights = {"default model": "default", "weights dir": "file", "random weights": "random"}[c.model.origin]
        box = o.box or {}
        cells = ["★" if o.pareto else "", c.model.name, c.model.arch, weights, size_text(c.input_size),
                 c.precision if c.input_size else "-", ("on" if c.flip else "off") if c.input_size else "-",
                 scales_text(c.scales) if c.input_size else "-", c.engine if c.input_size else "-",
                 f"{o.fps:.1f}" if ok else "-",
                 f"{_ms(o.stages, 'total'):.1f} / {_ms(o.stages, 'total', 'p90'):.1f}" if ok else "-"]
        for s in stages:
            cells.append(f"{_ms(o.stages, s):.1f} / {_ms(o.stages, s, 'p90'):.1f}" if ok and s in o.stages else "-")
        cells += [_pct(box.get(k)) for k in BOX_KEYS]
        cells.append(_pct((o.keypoints or {}).get("AP")))
        if report.images.track_gt is not None:
            track = o.tracking or {}
            cells += [_pct(track.get(k)) for k in ("HOTA", "IDF1", "MOTA")]
            cells.append(str(track["IDsw"]) if "IDsw" in track else "-")
        agree = _pct(o.agreement)
        if ok and o.reference == c.short() and o.agreement is not None:
            agree += " (ref)"
        cells.append(agree if ok else "-")
        status = o.status if not o.reason else f"{o.status}: {o.reason}"
        if ok and o.gt_note:
            status += f" ({o.gt_note})"
        cells.append(status.replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for kind, front in report.fronts.items():
        lines.append(f"**Pareto-optimal by {kind}:** " + "; ".join(
            f"{o.config.model.name} {o.config.short()} ({o.fps:.1f} FPS, {_pct(o.metric[1])})" for o in front))
        lines.append("")
    return "\n".join(lines)


def plot_panels(report: ExploreReport, paper: bool) -> list:
    """Box AP and keypoint AP against ground truth (one front each, models compete), and agreement
    for every configuration (one front per weights: each is relative to its own reference)."""
    titles = {"box AP": ("box AP against ground truth", "COCO box AP (%)"),
              "keypoint AP": ("keypoint AP against ground truth", "COCO keypoint AP (%)"),
              "HOTA": ("tracking against the sequence's ground truth", "HOTA (%), default tracker"),
              "agreement": ("agreement with each model's reference configuration",
                            "agreement: AP (%) against the reference")}
    panels = {}
    for o in report.outcomes:
        if o.status != "ok" or not o.fps:
            continue
        c = o.config
        kind, value = o.metric
        entries = [(kind, value)] if kind != "agreement" else []
        if o.agreement is not None:
            entries.append(("agreement", o.agreement))
        for k, v in entries:
            if v is None:
                continue
            if k not in panels:
                panels[k] = Panel(*titles[k], front_per_series=k == "agreement")
            panels[k].points.append(PlotPoint(o.fps, 100 * v, c.short(), c.model.name, c.model.arch,
                                              not c.model.real))
    if paper:
        panel = panels.setdefault("box AP", Panel(*titles["box AP"]))
        panel.references = [ReferencePoint(fps, ap, name) for name, fps, ap in PAPER_POINTS]
        panel.reference_name = f"{PAPER_NAME}, COCO test-dev"
    return [panels[k] for k in ("box AP", "keypoint AP", "HOTA", "agreement") if k in panels]


def write_report(report: ExploreReport, out: Path, paper: bool, data) -> dict:
    files = {"csv": out / "results.csv", "json": out / "results.json", "markdown": out / "results.md",
             "png": out / "pareto.png", "svg": out / "pareto.svg"}
    header, rows = csv_rows(report.outcomes)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_file(files["csv"]) as f:
        f.write(buf.getvalue())
    meta = {"device": report.device, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
            "data": str(data) if data is not None else None, "images": report.images.name,
            "image_count": len(report.images.images), "ground_truth": sorted(report.images.gt),
            "notes": report.images.notes, "agreement_threshold": AGREEMENT_THRESHOLD, "counts": report.counts,
            "pareto": {k: [f"{o.config.model.name} {o.config.short()}" for o in v] for k, v in report.fronts.items()}}
    if paper:
        meta["paper"] = [{"model": n, "fps": f, "box_AP": a, "gpu": "Titan Xp"} for n, f, a in PAPER_POINTS]
    write_json_atomic(files["json"], {"meta": meta, "results": [o.to_dict() for o in report.outcomes]})
    with atomic_file(files["markdown"]) as f:
        f.write(markdown_table(report, data))
    subtitle = f"{report.device} · {report.images.name} · batch 1, median latency after warm-up"
    plot_pareto(plot_panels(report, paper), files["png"], files["svg"],
                title="Speed vs accuracy: CenterNet Live configurations", subtitle=subtitle)
    return files


def format_summary(report: ExploreReport) -> str:
    c = report.counts
    lines = [f"{c['ran']} configurations run, {c['cached']} from the cache, {c['skipped']} skipped, "
             f"{c['failed']} failed ({report.device})"]
    for o in report.outcomes:
        if o.status != "ok":
            lines.append(f"  {o.status}: {o.config.model.name} {o.config.short()}: {o.reason}")
    for kind, front in report.fronts.items():
        lines.append(f"Pareto-optimal by {kind} (fastest last):")
        for o in front:
            lines.append(f"  {o.config.model.name:<28} {o.config.short():<22} {o.fps:9.2f} FPS   "
                         f"{o.metric[0]} {_pct(o.metric[1])}")
    lines.append("wrote " + ", ".join(str(p) for p in report.files.values()))
    return "\n".join(lines)

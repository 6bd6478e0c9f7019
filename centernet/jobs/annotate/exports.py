"""What an input ends with: the exports (COCO JSON, MOT, CSV) built from the stored records, the summary,
and the frame drawing of the rendered video."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from centernet.classes import COCO_SKELETON
from centernet.io.writers.coco import write_coco_annotations
from centernet.io.writers.csv import write_csv
from centernet.io.writers.mot import write_mot
from centernet.jobs.annotate.plan import OUTPUT_FILES, AnnotateOptions


@dataclass
class RunStats:
    """What one run over an input counted, for its summary."""

    times: Counter = field(default_factory=Counter)         # busy seconds per stage
    not_sampled: Counter = field(default_factory=Counter)   # frames left out by the range or --every
    frames_read: int = 0
    frames_new: int = 0       # frames through the model in this run
    frames_kept: int = 0      # frames annotated, finished chunks included
    done_frames: int = 0      # frames the interrupted run had finished
    video_frames: int = 0
    wall_s: float = 0.0


def write_exports(folder: Path, options: AnnotateOptions, records, class_names, info: dict, keypoint_names,
                  ddd: bool, video_name: str | None) -> dict:
    """The export files asked for, from `records()` (a fresh iterator per call); {format: file name}."""
    outputs = {}
    if "coco" in options.formats:
        write_coco_annotations(folder / OUTPUT_FILES["coco"], records, class_names, info, options.tracking,
                               keypoint_names, COCO_SKELETON if keypoint_names else None, video_name)
        outputs["coco"] = OUTPUT_FILES["coco"]
    if "mot" in options.formats:
        write_mot(folder / OUTPUT_FILES["mot"], records())
        outputs["mot"] = OUTPUT_FILES["mot"]
    if "csv" in options.formats:
        write_csv(folder / OUTPUT_FILES["csv"], records(), class_names, options.tracking, keypoint_names, ddd)
        outputs["csv"] = OUTPUT_FILES["csv"]
    return outputs


def build_summary(spec: str, source, options: AnnotateOptions, records, class_names, stats: RunStats,
                  model: str, fingerprint: dict, outputs: dict) -> dict:
    """summary.json's content: frames, detections, tracks, speed per stage, outputs and settings."""
    src, o = source, options
    per_class, total, frames, track_ids = Counter(), 0, 0, set()
    for record in records():
        frames += 1
        d = record.dets.numpy()
        per_class.update(class_names[int(i)] for i in d["labels"])
        total += len(record.dets)
        if "track_ids" in d:
            track_ids.update(int(t) for t in d["track_ids"] if t > 0)
    skipped = dict(src.skip_reasons)
    truncated_at = getattr(src, "truncated_at", None)
    truncated = None
    if truncated_at is not None:
        tail = src.position - truncated_at  # failed reads past the last good frame: the missing tail
        if skipped.get("undecodable frame", 0) > tail:
            skipped["undecodable frame"] -= tail
        else:
            skipped.pop("undecodable frame", None)
        truncated = {"last_frame_decoded": truncated_at - 1, "frames_in_header": src.frame_count,
                     "message": f"the file ends early: {truncated_at} of the {src.frame_count} frames its header "
                                f"promises decode (truncated?); annotated the frames it has"}
    busy = {k: v for k, v in stats.times.items() if v > 0}
    busy_total = sum(busy.values()) or 1.0
    per_frame = max(stats.frames_new, 1)
    fps = stats.frames_new / stats.wall_s if stats.wall_s > 0 else 0.0
    message = (f"{frames} frames, {total} detections" + (f", {len(track_ids)} tracks" if o.tracking else "")
               + f", {fps:.1f} FPS" + (" (file truncated)" if truncated else "")
               + (f", resumed after {min(stats.done_frames, frames)} frames" if stats.done_frames else ""))
    return {
        "input": spec,
        "message": message,
        "complete": True,
        "source": {"kind": src.kind, "fps": src.fps, "size": list(src.size), "frame_count": src.frame_count},
        "frames": {"read": stats.frames_read, "annotated": frames, "annotated_this_run": stats.frames_new,
                   "resumed_after": min(stats.done_frames, frames), "skipped": skipped,
                   "not_sampled": dict(stats.not_sampled), "video_frames": stats.video_frames},
        "truncated": truncated,
        "detections": {"total": total, "per_class": dict(sorted(per_class.items(), key=lambda kv: -kv[1]))},
        "tracks": len(track_ids) if o.tracking else None,
        "wall_time_s": round(stats.wall_s, 3),
        "fps": round(fps, 3),
        "stages": {"ms_per_frame": {k: round(v * 1000.0 / per_frame, 3) for k, v in busy.items()},
                   "share": {k: round(v / busy_total, 4) for k, v in busy.items()}},
        "outputs": outputs,
        "model": model,
        "settings": {k: v for k, v in fingerprint.items() if k not in ("version", "model", "input")},
    }

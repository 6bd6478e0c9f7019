"""What an annotate job will do: the output formats, the options, one output folder per input, and how
many frames the options keep of an input."""
from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass
from pathlib import Path

from centernet.errors import CenterNetError, ConfigError, InputError
from centernet.io.sources import FrameSource, source_kind
from centernet.io.writers.lock import holder, in_use_error
from centernet.jobs.annotate.swap import finish_swap, staging_folder, unfinished_overwrite_error
from centernet.tracking import DEFAULT_TRACKER, TRACKERS

FORMATS = ("coco", "mot", "csv", "video")
OUTPUT_FILES = {"coco": "annotations.json", "mot": "mot.txt", "csv": "detections.csv", "video": "rendered.mp4"}
SUMMARY_FILE = "summary.json"


def parse_formats(text: str) -> tuple[str, ...]:
    """'coco,mot' -> ('coco', 'mot'); ConfigError naming the valid ones otherwise."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ConfigError(f"unknown --format {', '.join(bad) or repr(text)}: choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class AnnotateOptions:
    """What to write and which frames: built once from the command line."""

    formats: tuple = ("coco", "video")
    every: int = 1                     # annotate one frame in `every`
    start_s: float = 0.0               # files: first timestamp annotated
    end_s: float | None = None         # files: stop before this timestamp
    duration_s: float | None = None    # cameras/streams: wall-clock seconds; files: end = start + duration
    batch: int = 8                     # frames per forward pass
    chunk: int = 64                    # frames per checkpoint (resume granularity)
    threshold: float = 0.3             # detections below are not exported
    classes: frozenset | None = None   # class indices to keep; None = all
    track: bool = False                # `mot` turns tracking on as well
    tracker: str = DEFAULT_TRACKER     # bytetrack or greedy (make_tracker's names)
    tracker_options: object = None     # that tracker's config; None: its defaults
    resume: bool = False
    overwrite: bool = False
    quiet: bool = False
    queue_batches: int = 2             # bound of each queue between threads, in batches

    def __post_init__(self):
        parse_formats(",".join(self.formats))
        if self.every < 1 or self.batch < 1 or self.chunk < 1:
            raise ConfigError("--every, --batch and --chunk must be at least 1")
        if self.start_s < 0 or (self.duration_s is not None and self.duration_s <= 0):
            raise ConfigError("--start must be >= 0 and --duration > 0")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ConfigError(f"--end ({self.end_s:g}s) must come after --start ({self.start_s:g}s)")
        if self.tracker not in TRACKERS:
            raise ConfigError(f"unknown --tracker {self.tracker!r}: choose one of {', '.join(TRACKERS)}")
        if self.resume and self.overwrite:
            raise ConfigError("--resume continues an output folder and --overwrite replaces it: give one of them")

    @property
    def tracking(self) -> bool:
        return self.track or "mot" in self.formats

    def file_end_s(self) -> float | None:
        ends = [e for e in (self.end_s, None if self.duration_s is None else self.start_s + self.duration_s)
                if e is not None]
        return min(ends) if ends else None



# ---- the job: inputs -> output folders ------------------------------------------------------------

@dataclass(frozen=True)
class JobInput:
    spec: str
    folder: Path


def expand_inputs(items: list[str]) -> list[str]:
    """Glob patterns expanded (sorted); a pattern matching nothing stays, to be reported as not found."""
    out = []
    for item in map(str, items):
        if any(ch in item for ch in "*?[") and not Path(item).exists():
            out.extend(sorted(glob.glob(item, recursive=True)) or [item])
        else:
            out.append(item)
    return out


def output_name(spec: str) -> str:
    """The output folder's name for an input: file stem, folder name, camera0, or the URL's host and path."""
    kind = source_kind(spec)
    if kind == "camera":
        return f"camera{int(spec)}"
    if kind == "stream":
        return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.split("://", 1)[1]).strip("_.")[:80] or "stream"
    path = Path(spec.rstrip("/\\") or spec)
    return (path.name if path.is_dir() else path.stem) or "input"


def plan_job(inputs: list[str], out_dir: Path, options: AnnotateOptions) -> list[JobInput]:
    """One output folder per input; refuses existing folders unless resuming or overwriting."""
    specs = expand_inputs(inputs)
    if not specs:
        raise InputError("no input given: name video files, image folders, globs, camera indices or URLs")
    used, plan = set(), []
    for spec in specs:
        base = output_name(spec)
        name, n = base, 1
        while name.lower() in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        plan.append(JobInput(spec, Path(out_dir) / name))
    for item in plan:   # a live run's folder is refused whatever the flags: --overwrite would wreck both
        owner = holder(item.folder) or holder(staging_folder(item.folder))
        if owner is not None:
            raise in_use_error(item.folder, owner)
        finish_swap(item.folder)   # an --overwrite killed between its two renames had finished: put it in place
    if not (options.resume or options.overwrite):
        unfinished = [p.folder for p in plan if staging_folder(p.folder).exists()]
        if unfinished:
            raise unfinished_overwrite_error(unfinished[0])
        taken = [p.folder for p in plan if p.folder.is_dir() and any(p.folder.iterdir())]
        if taken:
            more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
            raise InputError(f"output folder {taken[0]} already exists{more}: add --resume to continue it or "
                             f"--overwrite to replace it")
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create --out {out_dir}: {e.strerror or e}; choose a folder you can write") from None
    return plan


def estimate_input_frames(spec: str, options: AnnotateOptions) -> int | None:
    """Frames the range and --every will keep, from the header (None for live or unreadable inputs)."""
    if source_kind(spec) in ("camera", "stream"):
        return None
    try:
        with FrameSource(spec) as source:
            return estimate_frames(source, options)
    except CenterNetError:
        return None


def check_start_within(source: FrameSource, options: AnnotateOptions) -> None:
    """Refuse a --start at or past the end of a file: it would annotate 0 frames and call that success."""
    if source.kind != "video" or source.is_live or not source.frame_count or not source.fps or options.start_s <= 0:
        return
    length_s = source.frame_count / source.fps
    if options.start_s >= length_s:
        raise InputError(f"--start {options.start_s:g}s is past the end of {source.spec}, which is {length_s:.1f} s "
                         f"long: give a --start below {length_s:.1f}")


def estimate_frames(source: FrameSource, options: AnnotateOptions) -> int | None:
    if source.frame_count is None or source.is_live:
        return None
    first = min(source.frame_count, math.ceil(options.start_s * source.fps - 1e-6))
    end_s = options.file_end_s()
    last = source.frame_count if end_s is None else min(source.frame_count, math.ceil(end_s * source.fps - 1e-6))
    return max(0, math.ceil((last - first) / options.every))


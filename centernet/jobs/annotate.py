"""`annotate`: videos, image folders, cameras and streams in; COCO JSON, MOT, CSV, rendered MP4 out.

Each input gets its own output folder (named after it, `_1`, `_2`... on clashes). Per input, three
or four threads overlap through bounded queues:

    reader  ── batches ──▶  inference (main thread)  ── detections ──▶  collector  ── frames ──▶  encoder
    FrameSource.read()       Detector.detect_batch                       threshold, track,          render,
    range, --every                                                       chunk checkpoints          mp4v

Resuming. Kept frames are numbered 0, 1, 2... and cut into chunks of `chunk` frames; batches never
cross a chunk boundary, so the same frames meet the model in the same batches in every run. When a
chunk is complete its records (and the tracker's state) go to `.annotate/chunks/NNNNNN.json`, then
`.annotate/state.json` counts it done; both are written atomically. A run killed at any moment and
started again with `--resume` decodes the input from the start (exact, unlike seeking), takes the
finished chunks' records from disk instead of running the model, restores the tracker, and carries
on. The exports are always built from the chunk files at the end, so they are byte-identical to an
uninterrupted run's. The rendered video cannot be appended to after a kill (an MP4 is unreadable
until its index is written), so a resumed run re-renders it from the start out of the stored
records: decoding, drawing and encoding only, no inference.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import queue
import re
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from centernet.classes import COCO_JOINTS, COCO_SKELETON
from centernet.errors import CenterNetError, ConfigError, InputError
from centernet.io.render import RenderOptions, draw_detections
from centernet.io.sources import FrameSource, images_in_folder, source_kind
from centernet.io.track import GreedyTracker, TrackerConfig
from centernet.io.writers.atomic import write_json_atomic
from centernet.io.writers.coco import write_coco_annotations
from centernet.io.writers.csv import write_csv
from centernet.io.writers.mot import write_mot
from centernet.io.writers.records import FrameRecord
from centernet.io.writers.video import VideoFileWriter

FORMATS = ("coco", "mot", "csv", "video")
OUTPUT_FILES = {"coco": "annotations.json", "mot": "mot.txt", "csv": "detections.csv", "video": "rendered.mp4"}
SUMMARY_FILE = "summary.json"
STATE_DIR = ".annotate"
STATE_FILE = "state.json"
STATE_VERSION = 1


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
    tracker: TrackerConfig = TrackerConfig()
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


@dataclass
class InputResult:
    spec: str
    folder: Path
    ok: bool
    message: str = ""
    summary: dict | None = None


@dataclass
class JobResult:
    results: list = field(default_factory=list)

    @property
    def failed(self) -> list:
        return [r for r in self.results if not r.ok]

    @property
    def exit_code(self) -> int:
        """0 when every input succeeded, 1 when some failed, 2 when all failed (as `detect`)."""
        if not self.failed:
            return 0
        return 2 if len(self.failed) == len(self.results) else 1


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
    if not (options.resume or options.overwrite):
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


def model_digest(model) -> str:
    """sha1 of the model's parameters and buffers: a resumed run must use the same weights."""
    h = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def run_job(plan: list[JobInput], detector, options: AnnotateOptions) -> JobResult:
    """Annotate every input in turn; a failing input is reported on stderr and the rest go on."""
    digest = model_digest(detector.model)
    estimates = [estimate_input_frames(item.spec, options) for item in plan]
    total = sum(estimates) if all(e is not None for e in estimates) else None
    result = JobResult()
    with tqdm(total=total, unit="frame", desc="all inputs", disable=options.quiet or len(plan) < 2,
              position=0, dynamic_ncols=True) as job_bar:
        for item in plan:
            try:
                summary = annotate_input(item.spec, item.folder, detector, options, job_bar, digest)
            except CenterNetError as e:
                tqdm.write(f"error: {e}" if item.spec in str(e) else f"error: {item.spec}: {e}", file=sys.stderr)
                result.results.append(InputResult(item.spec, item.folder, False, str(e)))
                continue
            result.results.append(InputResult(item.spec, item.folder, True, summary.get("message", ""), summary))
            if not options.quiet:
                tqdm.write(f"{item.spec} -> {item.folder}: {summary['message']}")
    if not options.quiet and len(plan) > 1:
        print(f"{len(plan) - len(result.failed)} of {len(plan)} inputs annotated into {plan[0].folder.parent}")
    return result


def estimate_input_frames(spec: str, options: AnnotateOptions) -> int | None:
    """Frames the range and --every will keep, from the header (None for live or unreadable inputs)."""
    if source_kind(spec) in ("camera", "stream"):
        return None
    try:
        with FrameSource(spec) as source:
            return estimate_frames(source, options)
    except CenterNetError:
        return None


def estimate_frames(source: FrameSource, options: AnnotateOptions) -> int | None:
    if source.frame_count is None or source.is_live:
        return None
    first = min(source.frame_count, math.ceil(options.start_s * source.fps - 1e-6))
    end_s = options.file_end_s()
    last = source.frame_count if end_s is None else min(source.frame_count, math.ceil(end_s * source.fps - 1e-6))
    return max(0, math.ceil((last - first) / options.every))


def annotate_input(spec: str, folder: Path, detector, options: AnnotateOptions, job_bar=None,
                   digest: str | None = None) -> dict:
    """Annotate one input into `folder`; returns its summary. InputError when it cannot be read."""
    source = FrameSource(spec)
    try:
        return InputAnnotation(spec, Path(folder), source, detector, options, job_bar,
                               digest or model_digest(detector.model)).run()
    finally:
        source.close()


# ---- one input ----------------------------------------------------------------------------------

class _Stopped(Exception):
    """Raised inside a stage when another stage failed and the pipeline is shutting down."""


_END = object()


@dataclass
class _Item:
    ordinal: int        # position among the kept frames
    index: int          # source frame index
    time_ms: float
    size: tuple         # (w, h)
    image: object       # BGR array, or None for a frame of a finished chunk when no video is rendered


class InputAnnotation:
    """The pipeline, checkpoints and exports of one input (see the module docstring)."""

    def __init__(self, spec, folder, source, detector, options, job_bar, digest):
        self.spec, self.folder, self.source, self.detector, self.options = spec, folder, source, detector, options
        self.job_bar = job_bar
        self.state_dir = folder / STATE_DIR
        self.chunks_dir = self.state_dir / "chunks"
        self.state_path = self.state_dir / STATE_FILE
        self.video = "video" in options.formats
        self.tracker = GreedyTracker(options.tracker) if options.tracking else None
        self.class_names = detector.class_names
        self.keypoint_names = COCO_JOINTS if detector.task == "multi_pose" else None
        self.ddd = detector.task == "ddd"
        self.fingerprint = self._fingerprint(digest)
        self.stop = threading.Event()        # any stage failed, or the run is abandoned
        self.reader_stop = threading.Event()  # end a live source early (Ctrl-C): finish what was read
        self.errors: list[BaseException] = []
        self.times: Counter = Counter()       # busy seconds per stage
        self.not_sampled: Counter = Counter()
        self.frames_read = 0
        self.frames_new = 0
        self.frames_kept = 0
        self.video_frames = 0
        self.file_names, self.image_ids = self._image_names()
        q = max(1, options.queue_batches)
        self.q_batches: queue.Queue = queue.Queue(q)
        self.q_results: queue.Queue = queue.Queue(q)
        self.q_render: queue.Queue = queue.Queue(q * options.batch)

    # -- setup ------------------------------------------------------------------------------------

    def _fingerprint(self, digest: str) -> dict:
        o = self.options
        where = self.spec if self.source.is_live else str(Path(self.spec).resolve())
        fp = {"version": STATE_VERSION, "input": where, "model": digest, "task": self.detector.task,
              "preprocess": self.detector.spec.to_dict(), "k": self.detector.k, "flip": self.detector.flip,
              "scales": list(self.detector.scales), "threshold": o.threshold,
              "classes": sorted(o.classes) if o.classes is not None else None, "every": o.every,
              "start_s": o.start_s, "end_s": o.file_end_s(), "batch": o.batch, "chunk": o.chunk,
              "tracker": asdict(o.tracker) if o.tracking else None}
        return json.loads(json.dumps(fp))

    def _image_names(self):
        """File names and COCO image ids of a folder's frames (numeric stems when all are numbers)."""
        if self.source.kind not in ("folder", "image"):
            return None, None
        files = images_in_folder(Path(self.spec)) if self.source.kind == "folder" else [Path(self.spec)]
        stems = [p.stem for p in files]
        numeric = all(s.isdigit() for s in stems) and len({int(s) for s in stems}) == len(stems)
        return [p.name for p in files], [int(s) for s in stems] if numeric else None

    def _prepare_folder(self) -> dict:
        """Create or reopen the output folder; returns the state to continue from (a fresh one when new)."""
        if self.options.overwrite and self.folder.exists():
            shutil.rmtree(self.folder)
        state = None
        if self.options.resume and self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            if state.get("fingerprint") != self.fingerprint:
                old = state.get("fingerprint", {})
                diff = sorted(k for k in set(old) | set(self.fingerprint) if old.get(k) != self.fingerprint.get(k))
                raise InputError(f"{self.folder} was started with other settings ({', '.join(diff)}): resume with "
                                 f"the same ones, or use --overwrite to start again")
            if self.source.is_live and not state.get("complete"):
                raise InputError(f"a {self.source.kind} cannot be resumed: use --overwrite to record it again")
        try:
            self.chunks_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.glob(".*.part*"):
                stale.unlink()
        except OSError as e:
            raise InputError(f"cannot write to {self.folder}: {e.strerror or e}") from None
        if state is None:
            state = {"fingerprint": self.fingerprint, "chunks_done": 0, "complete": False}
            write_json_atomic(self.state_path, state, fsync=True)
        return state

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> dict:
        self.state = self._prepare_folder()
        if self.state.get("complete"):
            return self._already_complete()
        self.done_chunks = int(self.state["chunks_done"])
        self.done_frames = self.done_chunks * self.options.chunk
        if self.tracker is not None and self.done_chunks:
            self.tracker.load_state_dict(self._load_chunk(self.done_chunks - 1)["tracker"])
        total = estimate_frames(self.source, self.options)
        self.bar = tqdm(total=total, unit="frame", desc=self.folder.name, disable=self.options.quiet, leave=False,
                        position=1 if self.job_bar is not None and not self.job_bar.disable else 0, dynamic_ncols=True)
        started = time.perf_counter()
        threads = [self._spawn(self._read, "annotate-reader"), self._spawn(self._collect, "annotate-collector")]
        if self.video:
            threads.append(self._spawn(self._encode, "annotate-encoder"))
        try:
            self._infer_until_end()
        except BaseException as e:
            self.stop.set()
            for t in threads:
                t.join()
            self.bar.close()
            if isinstance(e, KeyboardInterrupt):
                print(f"interrupted: {self.folder} keeps {self.state['chunks_done'] * self.options.chunk} finished "
                      f"frames; run again with --resume to continue", file=sys.stderr)
                raise
            if isinstance(e, _Stopped):
                self._raise_stage_error()
            raise
        for t in threads:
            t.join()
        self.bar.close()
        self._raise_stage_error()
        self.wall_s = time.perf_counter() - started
        return self._finish()

    def _spawn(self, fn, name: str) -> threading.Thread:
        def body():
            try:
                fn()
            except _Stopped:
                pass
            except BaseException as e:  # handed to the main thread, which reports or re-raises it
                self.errors.append(e)
                self.stop.set()
        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread

    def _raise_stage_error(self) -> None:
        if not self.errors:
            return
        e = self.errors[0]
        if isinstance(e, OSError) and not isinstance(e, CenterNetError):
            raise InputError(f"{self.folder}: {e.strerror or e} (disk full or folder not writable?)") from e
        raise e

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                pass

    def _get(self, q: queue.Queue):
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                pass

    # -- stage 1: read ----------------------------------------------------------------------------

    def _read(self) -> None:
        o, src = self.options, self.source
        start_ms = o.start_s * 1000.0
        end_s = o.file_end_s()
        end_ms = None if end_s is None else end_s * 1000.0
        wall_limit = min([v for v in (o.duration_s, o.end_s) if v is not None], default=None)
        first_index, ordinal, batch, t0 = None, 0, [], None
        while not self.stop.is_set() and not self.reader_stop.is_set():
            tick = time.perf_counter()
            frame = src.read()
            self.times["read"] += time.perf_counter() - tick
            if frame is None:
                break
            self.frames_read += 1
            if src.is_live:
                t0 = t0 if t0 is not None else time.monotonic()
                if wall_limit is not None and time.monotonic() - t0 >= wall_limit:
                    break
            else:
                if frame.timestamp_ms < start_ms:
                    self.not_sampled["before --start"] += 1
                    continue
                if end_ms is not None and frame.timestamp_ms >= end_ms:
                    break
            first_index = frame.index if first_index is None else first_index
            if (frame.index - first_index) % o.every:
                self.not_sampled["--every"] += 1
                continue
            done = ordinal < self.done_frames
            h, w = frame.image.shape[:2]
            batch.append(_Item(ordinal, frame.index, frame.timestamp_ms, (w, h),
                               frame.image if (self.video or not done) else None))
            ordinal += 1
            if len(batch) == o.batch or ordinal % o.chunk == 0:
                self._put(self.q_batches, batch)
                batch = []
        if self.stop.is_set():
            return
        if batch:
            self._put(self.q_batches, batch)
        self._put(self.q_batches, _END)

    # -- stage 2: inference (main thread) ---------------------------------------------------------

    def _infer_until_end(self) -> None:
        while True:
            try:
                self._infer()
                return
            except KeyboardInterrupt:
                if self.source.is_live and not self.reader_stop.is_set():
                    self.reader_stop.set()  # a camera or stream ends at Ctrl-C: keep what was read
                    continue
                raise

    def _infer(self) -> None:
        while True:
            batch = self._get(self.q_batches)
            if batch is _END:
                self._put(self.q_results, _END)
                return
            if batch[0].ordinal < self.done_frames:
                self._put(self.q_results, (batch, None))
                continue
            dets = self.detector.detect_batch([item.image for item in batch])
            for stage, ms in dets[0].timings.items():
                self.times[stage] += ms * len(batch) / 1000.0
            self._put(self.q_results, (batch, dets))

    # -- stage 3: threshold, track, checkpoint ----------------------------------------------------

    def _collect(self) -> None:
        o = self.options
        pending, loaded, loaded_no = [], None, None
        while True:
            item = self._get(self.q_results)
            if item is _END:
                break
            batch, dets = item
            for k, it in enumerate(batch):
                chunk_no = it.ordinal // o.chunk
                if dets is None:
                    if loaded_no != chunk_no:
                        loaded, loaded_no = self._load_chunk(chunk_no)["records"], chunk_no
                    record = self._stored_record(loaded, it, chunk_no)
                else:
                    tick = time.perf_counter()
                    kept = dets[k].only_labels(o.classes).above(o.threshold)
                    self.times["export"] += time.perf_counter() - tick
                    if self.tracker is not None:
                        tick = time.perf_counter()
                        kept.track_ids = self.tracker.update(kept)
                        self.times["track"] += time.perf_counter() - tick
                    record = self._record(it, kept)
                    pending.append(record)
                    self.frames_new += 1
                    if (it.ordinal + 1) % o.chunk == 0:
                        self._checkpoint(chunk_no, pending)
                        pending = []
                self.frames_kept = it.ordinal + 1
                if self.video:
                    self._put(self.q_render, (it.image, record))
                self.bar.update(1)
                if self.job_bar is not None:
                    self.job_bar.update(1)
        if pending:
            self._checkpoint((self.frames_kept - 1) // o.chunk, pending)  # the last, shorter chunk
        elif self.done_chunks and self.frames_kept <= (self.done_chunks - 1) * o.chunk:
            raise InputError(f"{self.spec} now ends after {self.frames_kept} frames, before the frames the "
                             f"interrupted run finished; use --overwrite to annotate it again")
        if self.video:
            self._put(self.q_render, _END)

    def _record(self, it: _Item, dets) -> FrameRecord:
        file_name = self.file_names[it.index] if self.file_names else None
        image_id = self.image_ids[it.index] if self.image_ids else it.index + 1
        return FrameRecord(it.index, float(it.time_ms), it.size[0], it.size[1], image_id, dets, file_name)

    def _stored_record(self, records: list, it: _Item, chunk_no: int) -> FrameRecord:
        pos = it.ordinal - chunk_no * self.options.chunk
        record = FrameRecord.from_json(records[pos]) if pos < len(records) else None
        if record is None or record.index != it.index:
            raise InputError(f"{self.spec} no longer decodes as it did in the interrupted run (frame "
                             f"{it.index}); use --overwrite to annotate it again")
        return record

    def _chunk_path(self, chunk_no: int) -> Path:
        return self.chunks_dir / f"{chunk_no:06d}.json"

    def _load_chunk(self, chunk_no: int) -> dict:
        try:
            return json.loads(self._chunk_path(chunk_no).read_text())
        except (OSError, ValueError):
            raise InputError(f"the resume state in {self.state_dir} is damaged (chunk {chunk_no}): use --overwrite "
                             f"to start again") from None

    def _checkpoint(self, chunk_no: int, records: list) -> None:
        tick = time.perf_counter()
        chunk = {"chunk": chunk_no, "records": [r.to_json() for r in records],
                 "tracker": self.tracker.state_dict() if self.tracker is not None else None}
        write_json_atomic(self._chunk_path(chunk_no), chunk, fsync=True)
        self.state["chunks_done"] = chunk_no + 1
        write_json_atomic(self.state_path, self.state, fsync=True)
        self.times["checkpoint"] += time.perf_counter() - tick

    # -- stage 4: render and encode ---------------------------------------------------------------

    def _encode(self) -> None:
        fps = self.source.fps / (1 if self.source.is_live else self.options.every)
        writer = VideoFileWriter(self.folder / OUTPUT_FILES["video"], fps)
        draw = RenderOptions(threshold=self.options.threshold)
        try:
            while True:
                item = self._get(self.q_render)
                if item is _END:
                    break
                image, record = item
                tick = time.perf_counter()
                canvas = render_record(image, record, self.class_names, draw)
                mid = time.perf_counter()
                writer.write(canvas)
                self.times["render"] += mid - tick
                self.times["encode"] += time.perf_counter() - mid
        except BaseException:
            writer.abort()
            raise
        tick = time.perf_counter()
        writer.close()
        self.times["encode"] += time.perf_counter() - tick
        self.video_frames = writer.frames

    # -- exports and summary ----------------------------------------------------------------------

    def records(self):
        """Every finished frame's record, read back from the chunk files in order."""
        for chunk_no in range(int(self.state["chunks_done"])):
            for raw in self._load_chunk(chunk_no)["records"]:
                yield FrameRecord.from_json(raw)

    def _finish(self) -> dict:
        tick = time.perf_counter()
        outputs = {}
        info = {"description": "CenterNet Live annotate", "source": self.spec, "model": self.detector.info.describe(),
                "threshold": self.options.threshold, "every": self.options.every, "tracking": self.options.tracking}
        video_name = None if self.file_names else (Path(self.spec).name if self.source.kind == "video" else self.spec)
        if "coco" in self.options.formats:
            write_coco_annotations(self.folder / OUTPUT_FILES["coco"], self.records, self.class_names, info,
                                   self.options.tracking, self.keypoint_names,
                                   COCO_SKELETON if self.keypoint_names else None, video_name)
            outputs["coco"] = OUTPUT_FILES["coco"]
        if "mot" in self.options.formats:
            write_mot(self.folder / OUTPUT_FILES["mot"], self.records())
            outputs["mot"] = OUTPUT_FILES["mot"]
        if "csv" in self.options.formats:
            write_csv(self.folder / OUTPUT_FILES["csv"], self.records(), self.class_names, self.options.tracking,
                      self.keypoint_names, self.ddd)
            outputs["csv"] = OUTPUT_FILES["csv"]
        if self.video and self.video_frames:
            outputs["video"] = OUTPUT_FILES["video"]
        self.times["finish"] += time.perf_counter() - tick
        summary = self._summary(outputs)
        write_json_atomic(self.folder / SUMMARY_FILE, summary, indent=2)
        self.state["complete"] = True
        write_json_atomic(self.state_path, self.state, fsync=True)
        shutil.rmtree(self.chunks_dir, ignore_errors=True)
        return summary

    def _summary(self, outputs: dict) -> dict:
        src, o = self.source, self.options
        per_class, total, frames, track_ids = Counter(), 0, 0, set()
        for record in self.records():
            frames += 1
            d = record.dets.numpy()
            per_class.update(self.class_names[int(i)] for i in d["labels"])
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
            if not o.quiet:
                tqdm.write(f"warning: {self.spec}: {truncated['message']}", file=sys.stderr)
        busy = {k: v for k, v in self.times.items() if v > 0}
        busy_total = sum(busy.values()) or 1.0
        per_frame = max(self.frames_new, 1)
        fps = self.frames_new / self.wall_s if self.wall_s > 0 else 0.0
        message = (f"{frames} frames, {total} detections" + (f", {len(track_ids)} tracks" if o.tracking else "")
                   + f", {fps:.1f} FPS" + (" (file truncated)" if truncated else "")
                   + (f", resumed after {min(self.done_frames, frames)} frames" if self.done_frames else ""))
        return {
            "input": self.spec,
            "message": message,
            "complete": True,
            "source": {"kind": src.kind, "fps": src.fps, "size": list(src.size), "frame_count": src.frame_count},
            "frames": {"read": self.frames_read, "annotated": frames, "annotated_this_run": self.frames_new,
                       "resumed_after": min(self.done_frames, frames), "skipped": skipped,
                       "not_sampled": dict(self.not_sampled), "video_frames": self.video_frames},
            "truncated": truncated,
            "detections": {"total": total, "per_class": dict(sorted(per_class.items(), key=lambda kv: -kv[1]))},
            "tracks": len(track_ids) if o.tracking else None,
            "wall_time_s": round(self.wall_s, 3),
            "fps": round(fps, 3),
            "stages": {"ms_per_frame": {k: round(v * 1000.0 / per_frame, 3) for k, v in busy.items()},
                       "share": {k: round(v / busy_total, 4) for k, v in busy.items()}},
            "outputs": outputs,
            "model": self.detector.info.describe(),
            "settings": {k: v for k, v in self.fingerprint.items() if k not in ("version", "model", "input")},
        }

    def _already_complete(self) -> dict:
        missing = [f for f in self.options.formats if not (self.folder / OUTPUT_FILES[f]).exists()]
        if missing:
            raise InputError(f"{self.folder} is already complete without {', '.join(missing)}: use --overwrite to "
                             f"annotate it again with these formats")
        summary = json.loads((self.folder / SUMMARY_FILE).read_text())
        summary["message"] = "already complete, nothing to do"
        return summary


def render_record(image, record: FrameRecord, class_names, options: RenderOptions):
    """The frame with its detections drawn by the shared renderer; tracked ones labelled with their id."""
    dets = record.dets
    if dets.track_ids is None:
        return draw_detections(image, dets, class_names, options)
    born = dets.track_ids > 0
    canvas = draw_detections(image, dets[born], class_names, options)
    unborn = dets[~born]
    unborn.track_ids = None
    return draw_detections(canvas, unborn, class_names, options)

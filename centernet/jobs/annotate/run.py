"""Running an annotate job: every input in turn into its own output folder. Per input, three or four
threads overlap through bounded queues:

    reader  ── batches ──▶  inference (main thread)  ── detections ──▶  collector  ── frames ──▶  encoder
    FrameSource.read()       Detector.detect_batch                       threshold, track,          render,
    range, --every                                                       chunk checkpoints          mp4v

Resuming (state.py). Kept frames are numbered 0, 1, 2... and cut into chunks of `chunk` frames; batches never
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

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from centernet.classes import COCO_JOINTS
from centernet.errors import CenterNetError, InputError
from centernet.io.render import RenderOptions, draw_detections
from centernet.io.sources import FrameSource, images_in_folder
from centernet.tracking import make_tracker, track_detections
from centernet.io.writers.atomic import write_json_atomic
from centernet.io.writers.lock import output_lock
from centernet.io.writers.records import FrameRecord
from centernet.io.writers.video import VideoFileWriter
from centernet.jobs.annotate.exports import RunStats, build_summary, write_exports
from centernet.jobs.annotate.plan import (OUTPUT_FILES, SUMMARY_FILE, AnnotateOptions, JobInput, check_start_within,
                                          estimate_frames, estimate_input_frames)
from centernet.jobs.annotate.result import InputResult, JobResult
from centernet.jobs.annotate.state import ResumeState, already_complete, model_digest, run_fingerprint
from centernet.jobs.annotate.swap import describe_target, finish_swap, output_target, swap_in
from centernet.progress import Progress, Task, no_progress


@dataclass(frozen=True)
class AnnotateEvent:
    """A line for the user. The library prints nothing: it hands these to `on_event` (the CLI prints them)."""

    kind: str   # "input_done", "job_done" (information); "input_failed", "truncated", "interrupted" (problems)
    text: str

    @property
    def is_problem(self) -> bool:
        return self.kind in ("input_failed", "truncated", "interrupted")


def ignore_event(event: AnnotateEvent) -> None:
    """The default `on_event`: a run nobody watches."""


def run_job(plan: list[JobInput], detector, options: AnnotateOptions,
            on_event: Callable[[AnnotateEvent], None] = ignore_event, progress: Progress = no_progress) -> JobResult:
    """Annotate every input in turn; a failing input is reported (`on_event`) and the rest go on."""
    digest = model_digest(detector)
    estimates = [estimate_input_frames(item.spec, options) for item in plan]
    total = sum(estimates) if all(e is not None for e in estimates) else None
    result = JobResult()
    counted = _CountedIntoJob(progress, Task("all inputs", total, "frame") if len(plan) > 1 else None)
    with counted:
        for item in plan:
            counted.next_input()
            try:
                summary = annotate_input(item.spec, item.folder, detector, options, counted, digest, on_event)
            except CenterNetError as e:
                text = f"error: {e}" if item.spec in str(e) else f"error: {item.spec}: {e}"
                on_event(AnnotateEvent("input_failed", text))
                result.results.append(InputResult(item.spec, item.folder, False, str(e)))
                continue
            result.results.append(InputResult(item.spec, item.folder, True, summary.get("message", ""), summary))
            if not options.quiet:
                on_event(AnnotateEvent("input_done", f"{item.spec} -> {item.folder}: {summary['message']}"))
    if not options.quiet and len(plan) > 1:
        on_event(AnnotateEvent("job_done", f"{len(plan) - len(result.failed)} of {len(plan)} inputs annotated into "
                                           f"{plan[0].folder.parent}"))
    return result


class _CountedIntoJob:
    """Passes each input's progress on and, with several inputs, adds its frames up into the job's task."""

    def __init__(self, progress: Progress, job: Task | None):
        self.progress, self.job, self.before, self.done = progress, job, 0, 0

    def __enter__(self):
        if self.job is not None:
            self.progress(self.job, 0)
        return self

    def __exit__(self, *exc):
        if self.job is not None:
            self.progress(self.job, self.before + self.done, finished=True)

    def next_input(self) -> None:
        self.before, self.done = self.before + self.done, 0

    def __call__(self, task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
        self.progress(task, done, note=note, finished=finished)
        if self.job is not None and done != self.done:
            self.done = done
            self.progress(self.job, self.before + done)


def annotate_input(spec: str, folder: Path, detector, options: AnnotateOptions, progress: Progress = no_progress,
                   digest: str | None = None, on_event: Callable[[AnnotateEvent], None] = ignore_event) -> dict:
    """Annotate one input into `folder`; returns its summary. InputError when it cannot be read,
    FolderInUseError when another live run writes into `folder` (the lock is held for the whole input).
    `progress` hears of every frame passed, as a task named after the folder."""
    folder = Path(folder)
    finish_swap(folder)   # an earlier --overwrite killed between its two renames
    target = output_target(folder, options.overwrite, options.resume)   # beside `folder` when replacing it
    name = describe_target(folder, target)
    try:
        with output_lock(target):
            source = FrameSource(spec)
            try:
                check_start_within(source, options)
                summary = InputAnnotation(spec, target, source, detector, options, progress,
                                          digest or model_digest(detector), on_event, name).run()
            finally:
                source.close()
            if target != folder:
                swap_in(target, folder)
            return summary
    except OSError as e:   # a write no stage caught (a full disk: the lock, the exports): one line, no traceback
        raise InputError(f"{name}: {e.strerror or e} (disk full or folder not writable?)") from e


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
    """The pipeline of one input: four stages in threads, checkpoints through `ResumeState`, exports at the end."""

    def __init__(self, spec, folder, source, detector, options: AnnotateOptions, progress: Progress, digest,
                 on_event: Callable[[AnnotateEvent], None] = ignore_event, name: str | None = None):
        self.spec, self.folder, self.source, self.detector, self.options = spec, folder, source, detector, options
        self.on_event = on_event
        self.progress = progress
        self.passed = 0                  # frames through the collector, those of finished chunks included
        self.resume = ResumeState(folder, run_fingerprint(spec, source, detector, options, digest), name)
        self.video = "video" in options.formats
        self.tracker = make_tracker(options.tracker, options.tracker_options) if options.tracking else None
        self.class_names = detector.class_names
        self.keypoint_names = COCO_JOINTS if detector.task == "multi_pose" else None
        self.ddd = detector.task == "ddd"
        self.stop = threading.Event()        # any stage failed, or the run is abandoned
        self.reader_stop = threading.Event()  # end a live source early (Ctrl-C): finish what was read
        self.errors: list[BaseException] = []
        self.stats = RunStats()
        self.file_names, self.image_ids = self._image_names()
        q = max(1, options.queue_batches)
        self.q_batches: queue.Queue = queue.Queue(q)
        self.q_results: queue.Queue = queue.Queue(q)
        self.q_render: queue.Queue = queue.Queue(q * options.batch)

    def _image_names(self):
        """File names and COCO image ids of a folder's frames (numeric stems when all are numbers)."""
        if self.source.kind not in ("folder", "image"):
            return None, None
        files = images_in_folder(Path(self.spec)) if self.source.kind == "folder" else [Path(self.spec)]
        stems = [p.stem for p in files]
        numeric = all(s.isdigit() for s in stems) and len({int(s) for s in stems}) == len(stems)
        return [p.name for p in files], [int(s) for s in stems] if numeric else None

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> dict:
        self.resume.open(self.options, self.source)
        if self.resume.complete:
            return already_complete(self.folder, self.options.formats)
        self.done_chunks = self.resume.chunks_done
        self.done_frames = self.stats.done_frames = self.done_chunks * self.options.chunk
        if self.tracker is not None and self.done_chunks:
            self.tracker.load_state_dict(self.resume.load_chunk(self.done_chunks - 1)["tracker"])
        total = estimate_frames(self.source, self.options)
        self.task = Task(self.folder.name, total, "frame", nested=True)
        self.progress(self.task, 0)
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
            self.progress(self.task, self.passed, finished=True)
            if isinstance(e, KeyboardInterrupt):
                self.on_event(AnnotateEvent("interrupted", f"interrupted: {self.resume.name} keeps "
                                            f"{self.resume.chunks_done * self.options.chunk} finished frames; "
                                            "run again with --resume to continue"))
                raise
            if isinstance(e, _Stopped):
                self._raise_stage_error()
            raise
        for t in threads:
            t.join()
        self.progress(self.task, self.passed, finished=True)
        self._raise_stage_error()
        if not self.stats.frames_kept:   # an export of nothing marked complete would hide the failure
            self.resume.discard_unstarted()
            raise InputError(self._no_frames_message())
        self.stats.wall_s = time.perf_counter() - started
        return self._finish()

    def _no_frames_message(self) -> str:
        src = self.source
        if self.stats.frames_read:
            return f"{self.spec}: no frame falls in the range given (--start / --end): widen it"
        if src.kind == "video" and not src.is_live:
            promised = f" (its header promises {src.frame_count})" if src.frame_count else ""
            return (f"{self.spec}: not one frame decodes{promised}: the file is damaged or its codec is one OpenCV "
                    f"cannot decode; re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
        return f"{self.spec}: no frame was read; check the {src.kind} gives frames"

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
            raise InputError(f"{self.resume.name}: {e.strerror or e} (disk full or folder not writable?)") from e
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
            self.stats.times["read"] += time.perf_counter() - tick
            if frame is None:
                break
            self.stats.frames_read += 1
            if src.is_live:
                t0 = t0 if t0 is not None else time.monotonic()
                if wall_limit is not None and time.monotonic() - t0 >= wall_limit:
                    break
            else:
                if frame.timestamp_ms < start_ms:
                    self.stats.not_sampled["before --start"] += 1
                    continue
                if end_ms is not None and frame.timestamp_ms >= end_ms:
                    break
            first_index = frame.index if first_index is None else first_index
            if (frame.index - first_index) % o.every:
                self.stats.not_sampled["--every"] += 1
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
                self.stats.times[stage] += ms * len(batch) / 1000.0
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
                        loaded, loaded_no = self.resume.load_chunk(chunk_no)["records"], chunk_no
                    record = self._stored_record(loaded, it, chunk_no)
                else:
                    tick = time.perf_counter()
                    kept = track_detections(self.tracker, dets[k], o.threshold, o.classes)
                    self.stats.times["track" if self.tracker is not None else "export"] += time.perf_counter() - tick
                    record = self._record(it, kept)
                    pending.append(record)
                    self.stats.frames_new += 1
                    if (it.ordinal + 1) % o.chunk == 0:
                        self._checkpoint(chunk_no, pending)
                        pending = []
                self.stats.frames_kept = it.ordinal + 1
                if self.video:
                    self._put(self.q_render, (it.image, record))
                self.passed += 1
                self.progress(self.task, self.passed)
        if pending:
            self._checkpoint((self.stats.frames_kept - 1) // o.chunk, pending)  # the last, shorter chunk
        elif self.done_chunks and self.stats.frames_kept <= (self.done_chunks - 1) * o.chunk:
            raise InputError(f"{self.spec} now ends after {self.stats.frames_kept} frames, before the frames the "
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


    def _checkpoint(self, chunk_no: int, records: list) -> None:
        tick = time.perf_counter()
        self.resume.save_chunk(chunk_no, records, self.tracker.state_dict() if self.tracker is not None else None)
        self.stats.times["checkpoint"] += time.perf_counter() - tick

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
                canvas = draw_detections(image, record.dets, self.class_names, draw)
                mid = time.perf_counter()
                writer.write(canvas)
                self.stats.times["render"] += mid - tick
                self.stats.times["encode"] += time.perf_counter() - mid
        except BaseException:
            writer.abort()
            raise
        tick = time.perf_counter()
        writer.close()
        self.stats.times["encode"] += time.perf_counter() - tick
        self.stats.video_frames = writer.frames


    # -- exports and summary ----------------------------------------------------------------------

    def _finish(self) -> dict:
        tick = time.perf_counter()
        info = {"description": "CenterNet Live annotate", "source": self.spec, "model": self.detector.info.describe(),
                "threshold": self.options.threshold, "every": self.options.every, "tracking": self.options.tracking}
        video_name = None if self.file_names else (Path(self.spec).name if self.source.kind == "video" else self.spec)
        outputs = write_exports(self.folder, self.options, self.resume.records, self.class_names, info,
                                self.keypoint_names, self.ddd, video_name)
        if self.video and self.stats.video_frames:
            outputs["video"] = OUTPUT_FILES["video"]
        self.stats.times["finish"] += time.perf_counter() - tick
        summary = build_summary(self.spec, self.source, self.options, self.resume.records, self.class_names,
                                self.stats, self.detector.info.describe(), self.resume.fingerprint, outputs)
        if summary["truncated"] and not self.options.quiet:
            self.on_event(AnnotateEvent("truncated", f"warning: {self.spec}: {summary['truncated']['message']}"))
        write_json_atomic(self.folder / SUMMARY_FILE, summary, indent=2)
        self.resume.mark_complete()
        return summary

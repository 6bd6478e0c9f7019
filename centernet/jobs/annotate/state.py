"""Resume state of one output folder: `.annotate/state.json` (the run's fingerprint, chunks done,
complete) and `.annotate/chunks/NNNNNN.json` (a finished chunk's records and the tracker's state), all
written atomically. A run may continue a folder only with the same fingerprint: same input, weights,
pre-processing, decoding, threshold, classes, frame range, batch, chunk and tracker."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from centernet.errors import InputError
from centernet.tracking import make_tracker
from centernet.io.writers.atomic import write_json_atomic
from centernet.io.writers.lock import LOCK_NAME
from centernet.io.writers.records import FrameRecord
from centernet.jobs.annotate.plan import OUTPUT_FILES, SUMMARY_FILE, AnnotateOptions
from centernet.jobs.annotate.result import ALREADY_COMPLETE
from centernet.jobs.annotate.swap import STATE_DIR, STATE_FILE

STATE_VERSION = 1


def model_digest(detector) -> str:
    """The weights' fingerprint: a resumed run must use the same weights (whichever engine runs them)."""
    return detector.weights_sha256



def tracker_fingerprint(options: AnnotateOptions) -> dict:
    """The tracker's name and every setting of its config (defaults spelled out)."""
    return {"name": options.tracker, **asdict(make_tracker(options.tracker, options.tracker_options).config)}


def run_fingerprint(spec: str, source, detector, options: AnnotateOptions, digest: str) -> dict:
    """Everything that decides an input's records: a resumed run must match it exactly."""
    o = options
    where = spec if source.is_live else str(Path(spec).resolve())
    fp = {"version": STATE_VERSION, "input": where, "model": digest, "task": detector.task,
          "preprocess": detector.spec.to_dict(), "k": detector.k, "flip": detector.flip,
          "scales": list(detector.scales), "threshold": o.threshold,
          "classes": sorted(o.classes) if o.classes is not None else None, "every": o.every,
          "start_s": o.start_s, "end_s": o.file_end_s(), "batch": o.batch, "chunk": o.chunk,
          "tracker": tracker_fingerprint(o) if o.tracking else None,
          "formats": sorted(o.formats)}   # a resume must not drop (or start) the partial render
    return json.loads(json.dumps(fp))


class ResumeState:
    """The `.annotate` folder of one output folder: opened (or created) once, then one chunk file per
    finished chunk, then marked complete (the chunk files go: the exports hold their records)."""

    def __init__(self, folder: Path, fingerprint: dict, name: str | None = None):
        self.folder, self.fingerprint = folder, fingerprint
        self.name = name or str(folder)   # how messages call the folder (swap.describe_target)
        self.state_dir = folder / STATE_DIR
        self.chunks_dir = self.state_dir / "chunks"
        self.path = self.state_dir / STATE_FILE
        self.state: dict = {}

    @property
    def chunks_done(self) -> int:
        return int(self.state["chunks_done"])

    @property
    def complete(self) -> bool:
        return bool(self.state.get("complete"))

    def open(self, options: AnnotateOptions, source) -> None:
        """Create or reopen the output folder; the state to continue from (a fresh one when new)."""
        if options.overwrite and self.folder.exists():
            empty_folder(self.folder, keep=LOCK_NAME)   # the lock stays: this run holds the folder
        state = None
        if options.resume and self.path.exists():
            state = json.loads(self.path.read_text())
            if state.get("fingerprint") != self.fingerprint:
                old = state.get("fingerprint", {})
                diff = sorted(k for k in set(old) | set(self.fingerprint) if old.get(k) != self.fingerprint.get(k))
                raise InputError(f"{self.name} was started with other settings ({', '.join(diff)}): resume with "
                                 f"the same ones, or use --overwrite to start again")
            if source.is_live and not state.get("complete"):
                raise InputError(f"a {source.kind} cannot be resumed: use --overwrite to record it again")
        try:
            self.chunks_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.glob(".*.part*"):
                stale.unlink()
        except OSError as e:
            raise InputError(f"cannot write to {self.name}: {e.strerror or e}") from None
        if state is None:
            state = {"fingerprint": self.fingerprint, "chunks_done": 0, "complete": False}
            write_json_atomic(self.path, state, fsync=True)
        self.state = state

    def chunk_path(self, chunk_no: int) -> Path:
        return self.chunks_dir / f"{chunk_no:06d}.json"

    def load_chunk(self, chunk_no: int) -> dict:
        try:
            return json.loads(self.chunk_path(chunk_no).read_text())
        except (OSError, ValueError):
            raise InputError(f"the resume state in {self.state_dir} is damaged (chunk {chunk_no}): use --overwrite "
                             f"to start again") from None

    def save_chunk(self, chunk_no: int, records: list, tracker_state: dict | None) -> None:
        """The chunk's file first, then the state that counts it done: a kill between the two loses nothing."""
        chunk = {"chunk": chunk_no, "records": [r.to_json() for r in records], "tracker": tracker_state}
        write_json_atomic(self.chunk_path(chunk_no), chunk, fsync=True)
        self.state["chunks_done"] = chunk_no + 1
        write_json_atomic(self.path, self.state, fsync=True)

    def records(self):
        """Every finished frame's record, read back from the chunk files in order."""
        for chunk_no in range(self.chunks_done):
            for raw in self.load_chunk(chunk_no)["records"]:
                yield FrameRecord.from_json(raw)

    def discard_unstarted(self) -> None:
        """Remove the state of a run that finished no chunk (nothing to resume, nothing to keep)."""
        if not self.chunks_done:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def mark_complete(self) -> None:
        self.state["complete"] = True
        write_json_atomic(self.path, self.state, fsync=True)
        shutil.rmtree(self.chunks_dir, ignore_errors=True)


def empty_folder(folder: Path, keep: str) -> None:
    for entry in folder.iterdir():
        if entry.name == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def already_complete(folder: Path, formats: tuple) -> dict:
    """The summary of a folder a previous run finished; InputError when it lacks a format asked for now."""
    missing = [f for f in formats if not (folder / OUTPUT_FILES[f]).exists()]
    if missing:
        raise InputError(f"{folder} is already complete without {', '.join(missing)}: use --overwrite to "
                         f"annotate it again with these formats")
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    summary["message"] = ALREADY_COMPLETE
    return summary

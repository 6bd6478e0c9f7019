"""`annotate --ray`: a collection of videos annotated by a pool of Ray actors, one per GPU (or CPU slot).

The unit of work is one whole input, because tracking needs a video's frames in order. Each actor loads
the Detector once and takes inputs one after another; each input is annotated by the same per-input code
as the single-process run (`annotate_input`: same batches, chunk checkpoints, atomic writes, resume
state, exports), so every output file is the one `annotate` without `--ray` writes. Workers therefore
read the inputs and write the outputs themselves: both must be on storage every node sees at the same
path (docs/cluster.md).

The driver hands out inputs and watches the actors:
- an actor that dies (killed, out of memory, node lost) has its input handed to the next free actor with
  `resume` on, so the retry continues from the chunks the dead one finished; a replacement actor takes
  the dead one's slot; after `max_attempts` deaths on one input it is reported as failed;
- an input that fails for a reason the user can act on (a `CenterNetError`: unreadable, other settings
  in its folder, folder in use) is reported once and not retried;
- progress (inputs done, frames summed over the workers) goes to a callback; the library never prints.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from centernet.errors import CenterNetError, ConfigError
from centernet.jobs.annotate import AnnotateOptions, JobInput, annotate_input, model_digest
from centernet.jobs.annotate.result import InputResult, JobResult
from centernet.progress import Task
from centernet.jobs.annotate.swap import staging_folder

INSTALL_HINT = "pip install 'centernet-live[cluster]'"


class ClusterError(CenterNetError):
    """Ray is missing, or the cluster cannot be reached or has no room for a worker."""


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide the pool runs: built once from the command line."""

    address: str | None = None     # None: start a local instance; "auto", "host:port", "ray://host:10001": join
    workers: int | None = None     # None: one per GPU, else one per CPU slot (capped at the number of inputs)
    use_gpus: bool | None = None   # None: GPUs when the cluster has them; False: CPU slots (--device cpu)
    cpus_per_worker: int = 1       # CPU-slot workers: cores (torch threads) each
    max_attempts: int = 3          # tries per input when its worker dies
    poll_s: float = 0.25           # how often the driver asks the workers for progress
    temp_dir: str | None = None    # a local instance's temp/socket folder (keep it short: socket path limit)
    verbose: bool = False          # Ray's own log lines (its warnings, the workers' output); else errors only

    def __post_init__(self):
        if self.workers is not None and self.workers < 1:
            raise ConfigError("--workers must be at least 1")
        if self.cpus_per_worker < 1 or self.max_attempts < 1:
            raise ConfigError("cpus per worker and attempts must be at least 1")


@dataclass(frozen=True)
class ActiveInput:
    spec: str
    worker: str
    pid: int
    frames: int                    # frames of this input passed so far (finished chunks of a resume included)
    attempt: int


@dataclass(frozen=True)
class ClusterProgress:
    """A snapshot for a progress display."""

    done: int                      # inputs finished (successfully or not)
    total: int
    frames: int                    # frames annotated by all workers so far in this run
    elapsed_s: float               # since the first frame (the workers' start and model loading excluded)
    active: tuple = ()             # ActiveInput per busy worker

    @property
    def frames_per_s(self) -> float:
        """Summed over the workers: all frames so far over the time since the first one."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


def import_ray():
    """The `ray` module, or a ClusterError saying in one line how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


# ---- the worker (a plain class; Ray turns it into an actor) ---------------------------------------

class _FrameCounter:
    """The progress `annotate_input` reports, kept for the driver's polls: frames passed so far."""

    def __init__(self):
        self.n = 0

    def __call__(self, task: Task, done: int, *, note: str = "", finished: bool = False) -> None:
        self.n = done


class AnnotateWorker:
    """Holds one loaded Detector and annotates whole inputs with it, one after another.

    Runs as a threaded actor (max_concurrency=2) so `progress` answers while `annotate` works."""

    def __init__(self, make_detector: Callable[[str], object], device: str, threads: int, cwd: str | None):
        if device == "cpu":
            os.environ["CENTERNET_THREADS"] = str(threads)  # the engine sizes torch's pool from it
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # relative inputs resolve as on the driver (same path on shared storage)
        self.detector = make_detector(device=device)
        self.digest = model_digest(self.detector)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.counter = _FrameCounter()

    def annotate(self, spec: str, folder: str, options: AnnotateOptions) -> dict:
        self.counter = _FrameCounter()
        report = {"worker": self.name, "device": str(self.detector.device)}
        try:
            summary = annotate_input(spec, Path(folder), self.detector, options, self.counter, self.digest)
        except CenterNetError as e:
            return {**report, "ok": False, "message": str(e)}
        return {**report, "ok": True, "summary": summary}

    def progress(self) -> dict:
        return {"frames": self.counter.n, "worker": self.name, "pid": os.getpid()}


# ---- the driver -----------------------------------------------------------------------------------

@dataclass
class _Task:
    item: JobInput
    attempt: int = 1
    last_death: str = ""


@dataclass
class _Slot:
    actor: object
    task: _Task | None = None
    ref: object = None
    progress: dict = field(default_factory=dict)


JOIN_TIMEOUT_S = 10.0   # a cluster address that does not answer a TCP connection in this long is refused
HEAD_HINT = "start a head node with `ray start --head` (it prints the address to pass) and give that address"


def bootstrap_address(ray, address: str) -> str | None:
    """host:port a joining driver connects to first (`auto`: the running cluster Ray finds); None if unknown."""
    if address == "auto":
        try:   # Ray's own lookup (RAY_ADDRESS, then the local node's cluster file): not public API, so guarded
            return ray._private.services.canonicalize_bootstrap_address("auto")
        except Exception:
            return None
    return address.split("://", 1)[-1]


def check_reachable(ray, address: str, timeout_s: float = JOIN_TIMEOUT_S) -> None:
    """Refuse, in one line, a cluster address nothing answers on: `ray.init` would retry it for ever."""
    target = bootstrap_address(ray, address)
    if not target or ":" not in target:
        return
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as e:
        reason = f"no answer within {timeout_s:g} s" if isinstance(e, TimeoutError) else (
            getattr(e, "strerror", None) or str(e))
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {reason}; {HEAD_HINT}") from None


def connect(ray, cluster: ClusterOptions) -> bool:
    """Join or start Ray; True when this call started it (and so should shut it down)."""
    if ray.is_initialized():
        return False
    if cluster.address is not None:
        check_reachable(ray, cluster.address)
    logs = {"log_to_driver": cluster.verbose, "logging_level": logging.INFO if cluster.verbose else logging.ERROR}
    try:
        if cluster.address is None:
            ray.init(_temp_dir=cluster.temp_dir, include_dashboard=False, **logs)
        else:
            ray.init(address=cluster.address, **logs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {cluster.address}" if cluster.address else "a local Ray instance"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClusterError(f"cannot reach {where}: {first}; {join_hint(cluster.address)}") from None
    return True


def join_hint(address: str | None) -> str:
    """What to do when `ray.init` failed. An address whose port answered (`check_reachable`) but refused the
    driver most likely wants a token: a new Ray cluster asks for one by default, and Ray sends it to an address
    given explicitly only when RAY_AUTH_MODE=token."""
    if address is not None and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return ("if the cluster uses token authentication (a new Ray cluster does by default), set "
                "RAY_AUTH_MODE=token (the token is read from ~/.ray/auth_token or RAY_AUTH_TOKEN)")
    return "start one with `ray start --head` and pass its address (or `auto` on a node of it)"


def pool_shape(resources: dict, cluster: ClusterOptions, inputs: int) -> tuple[int, bool]:
    """(workers, on GPUs): one worker per GPU, else one per `cpus_per_worker` CPU slot; at most one per input."""
    gpus = int(resources.get("GPU", 0))
    use_gpus = gpus > 0 if cluster.use_gpus is None else cluster.use_gpus
    if use_gpus and gpus < 1:
        raise ClusterError("the Ray cluster has no GPU: use --device cpu (or auto) to run on CPU slots")
    slots = gpus if use_gpus else int(resources.get("CPU", 0)) // cluster.cpus_per_worker
    if slots < 1:
        raise ClusterError(f"the Ray cluster has no free {'GPU' if use_gpus else 'CPU'} for a worker "
                           f"({cluster.cpus_per_worker} CPU each)")
    return max(1, min(slots, cluster.workers or slots, inputs)), use_gpus


def run_job_on_ray(plan: list[JobInput], make_detector: Callable[[str], object], options: AnnotateOptions,
                   cluster: ClusterOptions = ClusterOptions(),
                   on_progress: Callable[[ClusterProgress], None] | None = None,
                   on_result: Callable[[InputResult], None] | None = None) -> JobResult:
    """Annotate every input of `plan` on a Ray pool; `make_detector(device=...)` builds the model in each
    worker (it is pickled to them: a module-level function or a functools.partial of one, e.g.
    `partial(Detector.from_checkpoint, weights, input_size=(384, 384))`)."""
    ray = import_ray()
    started_here = connect(ray, cluster)
    slots: list[_Slot] = []
    try:
        n, on_gpus = pool_shape(ray.cluster_resources(), cluster, len(plan))
        per_worker = {"num_gpus": 1, "num_cpus": 1} if on_gpus else {"num_cpus": cluster.cpus_per_worker}
        actor_class = ray.remote(max_concurrency=2, **per_worker)(AnnotateWorker)

        def new_actor():
            return actor_class.remote(make_detector, "cuda" if on_gpus else "cpu", cluster.cpus_per_worker,
                                      os.getcwd())

        slots = [_Slot(new_actor()) for _ in range(n)]
        return _drive(ray, slots, new_actor, plan, options, cluster, on_progress, on_result)
    finally:
        for slot in slots:
            ray.kill(slot.actor)
        if started_here:
            ray.shutdown()


def _drive(ray, slots, new_actor, plan, options, cluster, on_progress, on_result) -> JobResult:
    from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError
    worker_options = replace(options, quiet=True)
    retry_options = replace(worker_options, resume=True, overwrite=False)  # continue the dead worker's chunks
    pending = deque(_Task(item) for item in plan)
    finished: dict[str, InputResult] = {}
    frames_before = 0                # frames of inputs already finished in this run
    start = time.perf_counter()
    first_frame_at = None            # the pool is warm: workers started and models loaded

    def finish(result: InputResult) -> None:
        nonlocal frames_before
        finished[str(result.folder)] = result
        if result.summary:
            frames_before += int(result.summary.get("frames", {}).get("annotated_this_run", 0))
        if on_result is not None:
            on_result(result)

    while pending or any(s.task for s in slots):
        for slot in slots:
            if slot.task is None and pending:
                slot.task = pending.popleft()
                # a retry continues the dead worker's chunks; an --overwrite that died before its new output
                # existed starts it again (a resume would find the old output complete and keep it)
                resumable = not options.overwrite or staging_folder(slot.task.item.folder).exists()
                opts = retry_options if slot.task.attempt > 1 and resumable else worker_options
                slot.ref, slot.progress = slot.actor.annotate.remote(slot.task.item.spec,
                                                                     str(slot.task.item.folder.resolve()), opts), {}
        busy = [s for s in slots if s.task]
        ready, _ = ray.wait([s.ref for s in busy], num_returns=1, timeout=cluster.poll_s)
        for slot in (s for s in busy if s.ref in ready):
            task, slot.task = slot.task, None
            try:
                report = ray.get(slot.ref)
            except (RayActorError, WorkerCrashedError) as e:
                task.last_death = _first_line(e)
                slot.actor = new_actor()  # a fresh worker takes the dead one's slot
                if task.attempt < cluster.max_attempts:
                    pending.appendleft(_Task(task.item, task.attempt + 1, task.last_death))
                else:
                    finish(InputResult(task.item.spec, task.item.folder, False,
                                       f"its worker died {task.attempt} times (last: {task.last_death})",
                                       attempts=task.attempt))
                continue
            except RayTaskError as e:  # a bug, not a bad input: the same input would fail again
                finish(InputResult(task.item.spec, task.item.folder, False,
                                   f"internal error: {_first_line(e.cause if e.cause else e)}",
                                   attempts=task.attempt))
                continue
            finish(_video_result(task, report))
        _poll(ray, [s for s in slots if s.task])
        frames = frames_before + sum(s.progress.get("frames", 0) for s in slots if s.task)
        if first_frame_at is None and (frames or finished):
            first_frame_at = time.perf_counter()
        if on_progress is not None:
            active = tuple(ActiveInput(s.task.item.spec, s.progress.get("worker", ""), s.progress.get("pid", 0),
                                       s.progress.get("frames", 0), s.task.attempt) for s in slots if s.task)
            warm_s = time.perf_counter() - first_frame_at if first_frame_at is not None else 0.0
            on_progress(ClusterProgress(len(finished), len(plan), frames, warm_s, active))
    end = time.perf_counter()
    return JobResult([finished[str(item.folder)] for item in plan], len(slots), end - start,
                         (first_frame_at or end) - start)


def _poll(ray, busy: list[_Slot]) -> None:
    """Ask the busy workers how far they are; a dead one answers nothing (its annotate call reports it)."""
    refs = [s.actor.progress.remote() for s in busy]
    for slot, ref in zip(busy, refs):
        try:
            slot.progress = ray.get(ref, timeout=5.0)
        except Exception:  # dead, restarting or slow: keep the last answer
            pass


def _video_result(task: _Task, report: dict) -> InputResult:
    item = task.item
    if not report["ok"]:
        return InputResult(item.spec, item.folder, False, report["message"], worker=report["worker"],
                           device=report["device"], attempts=task.attempt)
    summary = report["summary"]
    return InputResult(item.spec, item.folder, True, summary.get("message", ""), summary, report["worker"],
                       report["device"], task.attempt)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__

"""What is this checkpoint file? Inspection, closest-layout guessing, and format conversion.

`inspect_file` answers for any file: its format (original / ours / default model), arch, task,
classes, input size, parameter count, sha256, and whether it loads strictly. The strict check runs
on the meta device (shapes only, no memory, no init), so even the hourglass is checked in about a
second; the error of a file that does not load is exactly the one `detect` gives, and the closest
known arch/task is found by counting tensors whose name and shape fit each candidate layout.
`convert_file` moves a checkpoint between our format and the original's (a round trip is identical).
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from centernet.models.checkpoint import (DEFAULT_MODEL_ARCHS, CheckpointInfo, atomic_save, checkpoint_dict, clean_state_dict,
                         guess_heads, load_checkpoint, original_preprocess, read_checkpoint,
                         read_file, task_of_heads, to_original)
from centernet.classes import default_classes
from centernet.errors import CenterNetError, ConfigError
from centernet.io.writers.atomic import ensure_writable_file
from centernet.models.heads import DEFAULT_NUM_CLASSES, TASKS, task_heads
from centernet.models.build import available_archs, build_model, default_head_conv
from centernet.models.zoo import manifest_name_for, sha256_file

BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def check_loads(path, arch: str | None = None, task: str | None = None) -> tuple[torch.nn.Module, CheckpointInfo]:
    """`load_checkpoint` with the model on the meta device: the same strict check and errors, no weights copied."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*meta parameter.*no-op")
        return load_checkpoint(path, arch=arch, task=task)


@lru_cache(maxsize=64)
def _layout(arch: str, heads: tuple) -> dict:
    """name -> shape of the state dict `build_model` gives (built on the meta device)."""
    with torch.device("meta"):
        model = build_model(arch, heads=dict(heads), head_conv=default_head_conv(arch))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@dataclass(frozen=True)
class Candidate:
    """How well a file's tensors fit one arch/task layout."""

    arch: str
    task: str
    fit: int          # tensors with this name and shape in the layout
    wrong_shape: int  # tensors whose name is in the layout with another shape
    missing: int      # layout tensors the file lacks
    unexpected: int   # file tensors the layout lacks

    @property
    def score(self) -> float:
        return self.fit / max(1, self.fit + self.wrong_shape + self.missing + self.unexpected)

    def describe(self) -> str:
        total = self.fit + self.wrong_shape + self.unexpected
        parts = [f"{n} {label}" for n, label in ((self.wrong_shape, "wrong shape"), (self.missing, "missing"),
                                                 (self.unexpected, "unexpected")) if n]
        return f"{self.task} {self.arch} ({self.fit} of {total} tensors fit{': ' if parts else ''}{', '.join(parts)})"


def _score(arch: str, task: str, heads: dict, shapes: dict) -> Candidate | None:
    try:
        layout = _layout(arch, tuple(heads.items()))
    except (CenterNetError, KeyError, ValueError, TypeError):
        return None  # a builder that cannot take these heads is no candidate
    fit = sum(1 for k, s in shapes.items() if layout.get(k) == s)
    wrong = sum(1 for k, s in shapes.items() if k in layout and layout[k] != s)
    return Candidate(arch, task, fit, wrong, sum(1 for k in layout if k not in shapes),
                     sum(1 for k in shapes if k not in layout))


def closest_configs(state_dict: dict, top: int = 3) -> list[Candidate]:
    """Known arch/task layouts ranked by how many of the file's tensors they fit (name and shape).

    Every arch is scored with the heads the file's keys suggest; the best two archs are then scored
    with every task's heads. Builds happen on the meta device and are cached, so this is fast.
    """
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    file_heads = guess_heads(state_dict)
    num_classes = file_heads.get("hm")
    file_task = task_of_heads(file_heads) if num_classes else "ctdet"

    def heads_for(task):
        n = num_classes if num_classes and task == file_task else DEFAULT_NUM_CLASSES[task]
        return task_heads(task, n)

    scored = (_score(arch, file_task, heads_for(file_task), shapes) for arch in available_archs())
    by_arch = sorted((c for c in scored if c), key=lambda c: -c.score)
    found = {(c.arch, c.task): c for c in by_arch}
    for c in by_arch[:2]:
        for task in TASKS:
            if (c.arch, task) not in found:
                found[(c.arch, task)] = _score(c.arch, task, heads_for(task), shapes)
    ranked = sorted((c for c in found.values() if c and c.fit), key=lambda c: (-c.score, -c.fit))
    return ranked[:top]


def standard_layout_notes(model: torch.nn.Module, info: CheckpointInfo) -> list[str]:
    """How a file that loads differs from the standard heads of its task (e.g. a head of the wrong width)."""
    if info.arch in DEFAULT_MODEL_ARCHS or "hm" not in info.heads:
        return []
    standard = task_heads(info.task, info.heads["hm"])
    notes = []
    for name, width in info.heads.items():
        if name not in standard:
            notes.append(f"extra head {name} ({width} wide)")
        elif width != standard[name]:
            notes.append(f"head {name} is {width} wide, a {info.task} model's is {standard[name]}")
    notes += [f"no {name} head" for name in standard if name not in info.heads]
    if notes:
        layout = _layout(info.arch, tuple(standard.items()))
        loaded = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        wrong = [f"{k} {loaded[k]} vs {layout[k]}" for k in layout if k in loaded and loaded[k] != layout[k]]
        if wrong:
            more = f" (+{len(wrong) - 6} more)" if len(wrong) > 6 else ""
            notes.append("wrong shape " + ", ".join(wrong[:6]) + more)
    return notes


@dataclass
class WeightsReport:
    """What `weights inspect` says about a file."""

    path: str
    size: int
    sha256: str | None = None
    format: str | None = None          # "original", "ours", "default model"; None when unreadable
    arch: str | None = None
    task: str | None = None
    heads: dict = field(default_factory=dict)
    class_names: tuple = ()
    input_size: tuple | None = None
    parameters: int | None = None
    tensors: int | None = None
    dtypes: tuple = ()
    loads: bool = False
    error: str | None = None
    layout_notes: list = field(default_factory=list)
    closest: list = field(default_factory=list)  # [Candidate] when it does not load
    zoo_name: str | None = None          # the cache manifest's file with this sha256

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["closest"] = [{**asdict(c), "describe": c.describe()} for c in self.closest]
        return d


def _parameters(tensors: dict) -> int:
    return sum(v.numel() for k, v in tensors.items() if not k.endswith(BUFFER_SUFFIXES))


def inspect_file(path, arch: str | None = None, task: str | None = None, sha256: bool = True) -> WeightsReport:
    """Everything a file says about itself, and whether it loads strictly (as `arch`/`task` when given).

    A file that cannot even be read (missing, unsafe pickle, truncated) raises CheckpointError.
    """
    path = Path(path)
    state_dict = clean_state_dict(read_file(path)["state_dict"])
    report = WeightsReport(str(path), path.stat().st_size, tensors=len(state_dict),
                           parameters=_parameters(state_dict),
                           dtypes=tuple(sorted({str(v.dtype).replace("torch.", "") for v in state_dict.values()})))
    if sha256:
        report.sha256 = sha256_file(path)
        report.zoo_name = manifest_name_for(report.sha256)
    try:
        model, info = check_loads(path, arch, task)
    except CenterNetError as e:
        report.error = str(e)
        try:
            _fill(report, read_checkpoint(path)[0])
        except CenterNetError:
            report.format = "original"  # a state dict of unknown layout
        report.closest = closest_configs(state_dict)
        return report
    report.loads = True
    _fill(report, info)
    report.layout_notes = standard_layout_notes(model, info)
    return report


def _fill(report: WeightsReport, info: CheckpointInfo) -> None:
    report.format, report.arch, report.task = info.format, info.arch, info.task
    report.heads, report.class_names = dict(info.heads), tuple(info.class_names)
    report.input_size = tuple(info.preprocess.input_size)


def looks_like(path) -> str:
    """A few words on what a checkpoint file is, for error messages ("a ctdet res_18 checkpoint (80 classes)")."""
    try:
        info, _ = read_checkpoint(path)
        return f"a {info.describe()} checkpoint"
    except CenterNetError:
        pass
    try:
        best = closest_configs(clean_state_dict(read_file(path)["state_dict"]), top=1)
    except CenterNetError:
        return "not a CenterNet checkpoint"
    return f"closest to {best[0].describe()}" if best else "not a CenterNet checkpoint"


# ---- conversion ---------------------------------------------------------------------------------

def default_output(path: Path, to: str) -> Path:
    stem = path.stem
    for suffix in ("_ours", "_original"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return path.with_name(f"{stem}_{to}.pth")


def convert_file(path, to: str, out: Path | None = None) -> tuple[Path, CheckpointInfo, list[str]]:
    """Write `path` in the other format ("ours" or "original"); returns (output path, info, notes).

    The tensors are copied unchanged (as float32 for the original, which has no half files), so
    original -> ours -> original and ours -> original -> ours give identical tensors. Notes say what
    the original format cannot keep (class names, pre-processing other than the original's).
    """
    path = Path(path)
    if to not in ("ours", "original"):
        raise ConfigError(f"unknown format {to!r}: use ours or original")
    info, state_dict = read_checkpoint(path)
    current = "original" if info.format == "original" else "ours"
    if info.format == "default model" and to == "original":
        raise ConfigError(f"{path} is a default model (arch {info.arch}): the original code has no {info.arch} "
                          f"arch, so it has no original layout")
    if current == to:
        raise ConfigError(f"{path} is already in the {to} format ({info.describe()})")
    out = Path(out) if out is not None else default_output(path, to)
    if out.exists() and out.resolve() == path.resolve():
        raise ConfigError(f"--out {out} is the input file: choose another path")
    ensure_writable_file(out, "--out")
    notes = []
    if to == "ours":
        model, info = load_checkpoint(path)
        atomic_save(checkpoint_dict(model, info, extra_meta={"converted_from": path.name}), out)
        return out, info, notes
    check_loads(path)  # only a file that loads strictly is worth converting
    if tuple(info.class_names) != tuple(default_classes(info.task, info.num_classes)):
        notes.append("class names (the original reads them from its dataset code)")
    if info.preprocess != original_preprocess(info.task, info.arch):
        notes.append("pre-processing (the original uses its own options)")
    atomic_save(to_original(state_dict, epoch=int(info.meta.get("epoch", 0))), out)
    return out, info, notes

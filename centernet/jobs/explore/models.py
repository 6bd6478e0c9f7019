"""The weights of a sweep: shipped default models, files of a weights folder (arch and task read from
each file, as `weights inspect` does), and seeded random weights for archs no file has."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from centernet.errors import CenterNetError, ConfigError, InputError
from centernet.models.build import build_model
from centernet.models.checkpoint import info_for_original, load_checkpoint, original_preprocess
from centernet.models.inspection import inspect_file
from centernet.models.zoo import DEFAULT_MODELS

RANDOM_WEIGHTS_VERSION = 1
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")


@dataclass(frozen=True)
class ModelSource:
    """One set of weights in the sweep: a file (real weights) or an arch with seeded random weights."""

    name: str
    arch: str
    task: str
    input_size: tuple
    path: Path | None = None        # None: seeded random weights
    weights_id: str = ""            # sha256 of the file, or "random:..."
    origin: str = "weights dir"     # "default model", "weights dir" or "random weights"
    error: str | None = None        # a file that cannot be used, with the reason

    @property
    def real(self) -> bool:
        return self.path is not None


def find_models(weights_dir: Path | None = None, archs: tuple | None = None, defaults: bool = True,
                say: Callable[[str], None] = lambda _: None) -> list[ModelSource]:
    """The weights of a sweep: shipped default models, files of `weights_dir` (arch and task read
    from each file, as `weights inspect` does), and seeded random weights for `archs` no file has."""
    sources: list[ModelSource] = []
    if defaults:
        for task, path in DEFAULT_MODELS.items():
            if not Path(path).exists():
                sources.append(ModelSource(Path(path).stem, "-", task, (), Path(path), origin="default model",
                                           error=f"default model missing: {path} (see assets/models/PROVENANCE.md)"))
            else:
                sources.append(_inspect_source(Path(path), "default model"))
    if weights_dir is not None:
        folder = Path(weights_dir)
        if not folder.is_dir():
            raise InputError(f"--weights-dir {folder} is not a folder: give the folder holding .pth files")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES))
        if not files:
            say(f"note: no weight files ({', '.join(WEIGHT_SUFFIXES)}) in {folder}")
        for path in files:
            src = _inspect_source(path, "weights dir")
            if archs is not None and not src.error and src.arch not in archs:
                say(f"note: {path.name} ({src.task} {src.arch}) left out: its arch is not in --archs")
                continue
            sources.append(src)
    # the same file twice (a default model copied into the folder) runs once
    unique, ids = [], set()
    for s in sources:
        if s.error or s.weights_id not in ids:
            unique.append(s)
            ids.add(s.weights_id)
    with_weights = {s.arch for s in unique if not s.error}
    for arch in archs or ():
        if arch not in with_weights:
            unique.append(random_source(arch))
    if not unique:
        raise ConfigError("nothing to explore: give --weights-dir, --archs, or keep the default models")
    return unique


def _inspect_source(path: Path, origin: str) -> ModelSource:
    try:
        rep = inspect_file(path)
    except CenterNetError as e:
        return ModelSource(path.stem, "-", "-", (), path, origin=origin, error=str(e))
    if not rep.loads:
        return ModelSource(path.stem, rep.arch or "-", rep.task or "-", tuple(rep.input_size or ()), path,
                           rep.sha256 or "", origin, error=f"does not load: {rep.error}")
    return ModelSource(path.stem, rep.arch, rep.task, tuple(rep.input_size), path, rep.sha256, origin)


def random_source(arch: str, task: str = "ctdet", seed: int = 0) -> ModelSource:
    return ModelSource(f"{arch} (random weights)", arch, task, tuple(original_preprocess(task, arch).input_size), None,
                       f"random:v{RANDOM_WEIGHTS_VERSION}:{arch}:{task}:seed{seed}", "random weights")


def random_model(arch: str, task: str = "ctdet", seed: int = 0):
    """An arch with seeded random weights whose outputs look like detections (for agreement only).

    A freshly built model predicts the heatmap prior everywhere (all scores 0.1) and zero sizes, which
    leaves nothing to compare. The last conv of each head is drawn at random and rescaled so that,
    on a seeded noise image, heatmap logits are the prior +- 1, sizes 8 +- 2 cells and offsets 0.5 +- 0.1.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model(arch, task).eval()
    targets = {"hm": (-2.19, 1.0), "wh": (8.0, 2.0), "reg": (0.5, 0.1)}
    finals = {}
    for name, module in model.named_modules():
        head = name.split(".")[0]
        if head in targets and isinstance(module, torch.nn.Conv2d):
            finals.setdefault(head, []).append(module)
    x = torch.randn(1, 3, 128, 128, generator=gen)
    with torch.no_grad():
        for convs in finals.values():
            for conv in convs:
                if conv.out_channels <= 80 and conv.kernel_size == (1, 1):
                    fan = conv.in_channels
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / fan))
        out = model(x)
        for head, (mean, std) in targets.items():
            if head not in out or head not in finals:
                continue
            z = out[head].float()
            mu, s = float(z.mean()), float(z.std()) or 1.0
            for conv in finals[head]:
                if conv.kernel_size != (1, 1):
                    continue
                conv.weight.mul_(std / s)
                if conv.bias is not None:
                    conv.bias.copy_((conv.bias - mu) * (std / s) + mean)
    info = info_for_original(model.state_dict(), arch, task)
    return model, info


def load_source(src: ModelSource):
    if src.path is None:
        return random_model(src.arch, src.task)
    return load_checkpoint(src.path)


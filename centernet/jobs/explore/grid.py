"""The configurations of a sweep (model x input size x precision x flip x test scales x engine) and
why one cannot run on this device."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from centernet.errors import ConfigError
from centernet.inference.backends.registry import BACKENDS, engine_unsupported_reason, installed_runtimes
from centernet.inference.backends.torch_engine import EAGER
from centernet.jobs.explore.models import ModelSource
from centernet.models.build import available_archs

PRECISIONS = ("fp32", "fp16", "bf16")
ENGINES = tuple(BACKENDS)  # every registered backend (the registry's names)
PRECISION_RANK = {"fp32": 2, "fp16": 1, "bf16": 0}  # fewer mantissa bits rank lower


@dataclass(frozen=True)
class ExploreGrid:
    """The values to sweep. `res` None means each model's own input size; `archs` None means every
    file of the weights folder (and no random-weight archs)."""

    archs: tuple | None = None
    res: tuple = (None,)
    precision: tuple = ("fp32",)
    flip: tuple = (False,)
    scales: tuple = ((1.0,),)
    engine: tuple = (EAGER,)

    def __post_init__(self):
        for p in self.precision:
            if p not in PRECISIONS:
                raise ConfigError(f"unknown precision {p!r}: use {', '.join(PRECISIONS)}")
        for e in self.engine:
            if e not in ENGINES:
                raise ConfigError(f"unknown engine {e!r}: use {', '.join(ENGINES)}")
        for r in self.res:
            if r is not None and (int(r) < 32 or int(r) % 32):
                raise ConfigError(f"bad input size {r}: use multiples of 32, at least 32")
        for s in self.scales:
            if not s or any(not (0.05 <= float(v) <= 8.0) for v in s):
                raise ConfigError(f"bad test scales {s!r}: give positive factors such as 0.5,0.75,1,1.25,1.5")
        if self.archs is not None:
            known = available_archs()
            for a in self.archs:
                if a not in known:
                    raise ConfigError(f"unknown arch {a!r}: use one of {', '.join(known)}")


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    model: ModelSource
    input_size: tuple
    precision: str = "fp32"
    flip: bool = False
    scales: tuple = (1.0,)
    engine: str = EAGER

    @property
    def multi_scale(self) -> bool:
        return tuple(self.scales) != (1.0,)

    @property
    def cost(self) -> float:
        """Relative compute: pixels x scales^2 x flip (used to pick the reference configuration)."""
        h, w = self.input_size
        return h * w * sum(s * s for s in self.scales) * (2 if self.flip else 1)

    def reference_rank(self) -> tuple:
        return (self.cost, PRECISION_RANK[self.precision], self.engine == EAGER)

    def short(self) -> str:
        """The configuration without the model, defaults left out: '512 fp16 flip ms5 graph'."""
        parts = [size_text(self.input_size)]
        if self.precision != "fp32":
            parts.append(self.precision)
        if self.flip:
            parts.append("flip")
        if self.multi_scale:
            parts.append(f"ms{len(self.scales)}" if len(self.scales) > 1 else f"x{self.scales[0]:g}")
        if self.engine != EAGER:
            parts.append(self.engine)
        return " ".join(parts)

    def label(self) -> str:
        return f"{self.model.name} {size_text(self.input_size)} {self.precision} flip {'on' if self.flip else 'off'} " \
               f"scales {scales_text(self.scales)} {self.engine}"


def size_text(size) -> str:
    if not size:
        return "-"
    h, w = size
    return str(h) if h == w else f"{h}x{w}"


def scales_text(scales) -> str:
    return ",".join(f"{s:g}" for s in scales)


def grid_configs(grid: ExploreGrid, sources: list[ModelSource]) -> list[Config]:
    """Every configuration, grouped by model; duplicates (same effective input size) dropped."""
    out, seen = [], set()
    for src in sources:
        if src.error:
            continue
        for res in grid.res:
            size = (int(res), int(res)) if res is not None else tuple(src.input_size)
            for precision in grid.precision:
                for flip in grid.flip:
                    for scales in grid.scales:
                        for engine in grid.engine:
                            cfg = Config(src, size, precision, bool(flip), tuple(float(s) for s in scales), engine)
                            key = (src.weights_id, src.name, cfg.label())
                            if key not in seen:
                                seen.add(key)
                                out.append(cfg)
    return out


def skip_reason(cfg: Config, device: torch.device) -> str:
    """Why a configuration cannot run here, or "" when it can (each backend's own rule, via the registry)."""
    installed = installed_runtimes()
    gpu_bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
    return engine_unsupported_reason(cfg.engine, device.type, cfg.precision, cfg.model.task,
                                     multi_scale=cfg.multi_scale, installed=installed, gpu_bf16=gpu_bf16) or ""


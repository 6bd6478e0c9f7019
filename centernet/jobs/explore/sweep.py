"""The sweep: every configuration of the grid in turn (from the cache where it ran before), then
agreement, the Pareto fronts and the report files."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from centernet.data.samples import check_max_images
from centernet.errors import CenterNetError, ConfigError
from centernet.inference.detector import resolve_device
from centernet.io.writers.atomic import ensure_writable_dir
from centernet.jobs.bench import device_name
from centernet.jobs.explore.agreement import add_agreement, mark_pareto
from centernet.jobs.explore.cache import ResultCache
from centernet.jobs.explore.grid import Config, ExploreGrid, grid_configs, skip_reason
from centernet.jobs.explore.images import ImageSet, load_images
from centernet.jobs.explore.models import find_models
from centernet.jobs.explore.outcome import ExploreReport, Outcome
from centernet.jobs.explore.report import format_summary, write_report
from centernet.jobs.explore.run import ModelPool, Unsupported, run_config
from centernet.progress import Progress, Task, no_progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExploreOptions:
    """Where a sweep reads its models and images, where it writes, and how it times; the defaults are the
    command line's."""

    out: Path = Path("explore")        # results.csv / .json / .md, the plots and the cache
    weights_dir: Path | None = None    # checkpoints (arch and task read from each file)
    data: str | Path | None = None     # COCO / MOTChallenge / image folder / video; None: frames of the demo clip
    max_images: int | None = None
    device: str = "auto"
    paper: bool = False                # add the paper's headline points to the plot
    defaults: bool = True              # include the shipped default models
    warmup: int = 2                    # untimed runs before timing


def explore(grid: ExploreGrid, options: ExploreOptions = ExploreOptions(), progress: Progress = no_progress,
            say: Callable[[str], None] = lambda _: None) -> ExploreReport:
    """Run the grid, write results.csv / results.json / results.md / pareto.png / pareto.svg to `options.out`,
    and print the Pareto-optimal configurations."""
    o, warmup = options, options.warmup
    check_max_images(o.max_images)
    if warmup < 0:
        raise ConfigError("--warmup must be 0 or more")
    out = Path(o.out)
    ensure_writable_dir(out, "--out")
    dev = resolve_device(o.device)
    dev_name = device_name(dev)
    sources = find_models(o.weights_dir, grid.archs, o.defaults, say)
    images = load_images(o.data, {s.task for s in sources if not s.error}, o.max_images)
    for note in images.notes:
        say(f"note: {note}")
    configs = grid_configs(grid, sources)
    cache = ResultCache(out / "cache")
    outcomes: list[Outcome] = [Outcome(Config(s, ()), "failed", s.error) for s in sources if s.error]
    counts = {"ran": 0, "cached": 0, "skipped": 0, "failed": len(outcomes)}
    pool = ModelPool(dev)
    task, done = Task("explore", len(configs), "config"), 0
    progress(task, done)
    try:
        for cfg in configs:
            progress(task, done, note=f"{cfg.model.name} {cfg.short()}")
            outcome = _one(cfg, pool, images, cache, dev, dev_name, warmup)
            counts[{"ok": "cached" if outcome.cached else "ran"}.get(outcome.status, outcome.status)] += 1
            outcomes.append(outcome)
            done += 1
            progress(task, done)
    finally:
        progress(task, done, finished=True)
        pool.release()
    add_agreement(outcomes, images)
    fronts = mark_pareto(outcomes)
    report = ExploreReport(outcomes, fronts, counts, {}, dev_name, images)
    report.files = write_report(report, out, o.paper, o.data)
    say(format_summary(report))
    return report


def _one(cfg: Config, pool: ModelPool, images: ImageSet, cache: ResultCache, dev, dev_name: str,
         warmup: int) -> Outcome:
    reason = skip_reason(cfg, dev)
    if reason:
        return Outcome(cfg, "skipped", reason)
    key = cache.key(cfg, dev_name, images, warmup)
    hit = cache.get(key, cfg)
    if hit is not None:
        return hit
    try:
        outcome = run_config(cfg, pool, images, warmup)
    except Unsupported as e:
        return Outcome(cfg, "skipped", str(e))
    except torch.cuda.OutOfMemoryError as e:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return Outcome(cfg, "failed", f"out of GPU memory ({str(e).splitlines()[0][:160]})")
    except CenterNetError as e:
        return Outcome(cfg, "failed", str(e))
    except (RuntimeError, ValueError, MemoryError, NotImplementedError, TypeError, KeyError) as e:
        log.debug("configuration %s failed", cfg.label(), exc_info=True)
        text = str(e).splitlines()[0][:200] if str(e) else ""
        return Outcome(cfg, "failed", f"{type(e).__name__}: {text}")
    cache.put(key, outcome)
    return outcome


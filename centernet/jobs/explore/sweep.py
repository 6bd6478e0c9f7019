"""The sweep: every configuration of the grid in turn (from the cache where it ran before), then
agreement, the Pareto fronts and the report files."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

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

log = logging.getLogger(__name__)


def explore(grid: ExploreGrid, out: Path, weights_dir: Path | None = None, data=None,
            max_images: int | None = None, device: str = "auto", paper: bool = False, defaults: bool = True,
            warmup: int = 2, progress: bool = True, say: Callable[[str], None] = lambda _: None) -> ExploreReport:
    """Run the grid, write results.csv / results.json / results.md / pareto.png / pareto.svg to `out`,
    and print the Pareto-optimal configurations."""
    check_max_images(max_images)
    if warmup < 0:
        raise ConfigError("--warmup must be 0 or more")
    out = Path(out)
    ensure_writable_dir(out, "--out")
    dev = resolve_device(device)
    dev_name = device_name(dev)
    sources = find_models(weights_dir, grid.archs, defaults, say)
    images = load_images(data, {s.task for s in sources if not s.error}, max_images)
    for note in images.notes:
        say(f"note: {note}")
    configs = grid_configs(grid, sources)
    cache = ResultCache(out / "cache")
    outcomes: list[Outcome] = [Outcome(Config(s, ()), "failed", s.error) for s in sources if s.error]
    counts = {"ran": 0, "cached": 0, "skipped": 0, "failed": len(outcomes)}
    pool = ModelPool(dev)
    bar = None
    if progress:
        bar = tqdm(total=len(configs), desc="explore", unit="config", dynamic_ncols=True)
    try:
        for cfg in configs:
            if bar is not None:
                bar.set_postfix_str(f"{cfg.model.name} {cfg.short()}", refresh=False)
            outcome = _one(cfg, pool, images, cache, dev, dev_name, warmup)
            counts[{"ok": "cached" if outcome.cached else "ran"}.get(outcome.status, outcome.status)] += 1
            outcomes.append(outcome)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        pool.release()
    add_agreement(outcomes, images)
    fronts = mark_pareto(outcomes)
    report = ExploreReport(outcomes, fronts, counts, {}, dev_name, images)
    report.files = write_report(report, out, paper, data)
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


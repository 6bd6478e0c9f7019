"""`explore`: find the fastest configuration that is accurate enough.

Every configuration of a grid (model x input size x precision x flip x test scales x engine) runs
on the same images. For each one it records the latency per stage (median, p90, p99 after warm-up)
and its accuracy:

- **AP against ground truth** (pycocotools; box AP for ctdet, keypoint AP for multi_pose) when the
  data has annotations and the weights are real;
- **agreement**: COCO AP of the configuration against the reference configuration of the same
  weights (the most expensive one that ran: largest input, every scale, flip, fp32, eager), whose
  detections scoring >= 0.3 serve as ground truth. It shows what fp16, a smaller input or dropping
  flip costs, with no annotations and even with random weights.

    grid = ExploreGrid(archs=("res_18",), res=(384, 512), flip=(False, True))
    report = explore(grid, ExploreOptions(Path("explore"), data="coco_mini"))

Results are cached per configuration under `out/cache/` (keyed by the weights' sha256, the
configuration, the device and the images), so re-running with a larger grid only runs what is new.
A configuration that cannot run here is "skipped" with the reason (fp16 on a CPU); one that fails
(out of memory, weights that do not load) is "failed" with the reason, and the sweep goes on.

grid.py       the configurations and why one cannot run here
models.py     the weights: default models, a weights folder, seeded random weights
images.py     the images and their ground truth
run.py        measuring one configuration
agreement.py  agreement with the reference configuration; the Pareto fronts
cache.py      one JSON file per configuration
sweep.py      `explore`: the whole sweep
report.py     results.csv / .json / .md, the plot and the printed summary
pareto.py     the Pareto front and its plot

Modules inside this package import each other by full module path, never through this file.
"""
from centernet.jobs.explore.agreement import (AGREEMENT_THRESHOLD, add_agreement, agreement_ap, mark_pareto,
                                              reference_ground_truth)
from centernet.jobs.explore.cache import ResultCache
from centernet.jobs.explore.grid import ENGINES, PRECISIONS, Config, ExploreGrid, grid_configs, skip_reason
from centernet.jobs.explore.images import ImageSet, load_images
from centernet.jobs.explore.models import ModelSource, find_models, load_source, random_model, random_source
from centernet.jobs.explore.outcome import ExploreReport, Outcome
from centernet.jobs.explore.run import ModelPool, Unsupported, run_config
from centernet.jobs.explore.sweep import ExploreOptions, explore

__all__ = ["AGREEMENT_THRESHOLD", "ENGINES", "PRECISIONS", "Config", "ExploreGrid", "ExploreOptions", "ExploreReport", "ImageSet",
           "ModelPool", "ModelSource", "Outcome", "ResultCache", "Unsupported", "add_agreement", "agreement_ap",
           "explore", "find_models", "grid_configs", "load_images", "load_source", "mark_pareto", "random_model",
           "random_source", "reference_ground_truth", "run_config", "skip_reason"]

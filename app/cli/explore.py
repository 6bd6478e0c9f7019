"""`main.py explore`: the command line of the speed/accuracy explorer (`centernet.jobs.explore`)."""
from __future__ import annotations

import sys
from pathlib import Path

from app.cli.options import EXIT_OK, EXIT_PARTIAL_FAILURE, EXIT_USER_ERROR, DATA, DEVICE, ENGINE, FLIP, MAX_IMAGES, OUT, PRECISION, QUIET, RES, SCALES, WARMUP
from app.cli.progress import bars
from centernet.errors import ConfigError
from centernet.inference.backends.registry import BACKENDS
from centernet.inference.tta import parse_scales as parse_scale_set
from centernet.jobs.explore import ExploreGrid, ExploreOptions, explore

ON = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def split_list(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def parse_flip(text: str) -> tuple[bool, ...]:
    out = []
    for item in split_list(text):
        if item.lower() not in ON:
            raise ConfigError(f"bad --flip value {item!r}: use off, on or off,on")
        out.append(ON[item.lower()])
    return tuple(dict.fromkeys(out)) or (False,)


def parse_res(text: str | None) -> tuple:
    if not text:
        return (None,)
    try:
        return tuple(dict.fromkeys(int(v) for v in split_list(text)))
    except ValueError:
        raise ConfigError(f"bad --res {text!r}: give square input sizes such as 384,512,640") from None


def parse_scales(groups: list[str]) -> tuple:
    """`--scales 1 0.5,0.75,1,1.25,1.5`: each word is one set of test scales."""
    out = [parse_scale_set(group) for group in groups]
    return tuple(dict.fromkeys(out)) or ((1.0,),)


def run(args) -> int:
    grid = ExploreGrid(archs=tuple(split_list(args.archs)) if args.archs else None, res=parse_res(args.res),
                       precision=tuple(dict.fromkeys(split_list(args.precision))),
                       flip=parse_flip(args.flip), scales=parse_scales(args.scales),
                       engine=tuple(dict.fromkeys(split_list(args.engine))))
    options = ExploreOptions(out=args.out, weights_dir=args.weights_dir, data=args.data, max_images=args.max_images,
                             device=args.device, paper=args.paper, defaults=args.defaults, warmup=args.warmup)
    report = explore(grid, options, progress=bars(args.quiet), say=print)
    return exit_code(report.counts)


def exit_code(counts: dict) -> int:
    """`detect`'s rule: 0 when every configuration that could run did, 1 when some failed, 2 when all failed
    (skipped ones, which cannot run here, such as fp16 on a CPU, are not failures)."""
    failed = counts["failed"]
    tried = failed + counts["ran"] + counts["cached"]
    if not failed:
        return EXIT_OK
    print(f"error: {failed} of {tried} configurations failed (the reasons are listed above and in results.md)",
          file=sys.stderr)
    return EXIT_USER_ERROR if failed == tried else EXIT_PARTIAL_FAILURE


def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="sweep models x input size x precision x flip x scales x engine: "
                                       "latency, AP, Pareto plot")
    p.add_argument("--weights-dir", type=Path, help="folder of checkpoints (arch and task read from each file)")
    p.add_argument("--archs", help="comma-separated archs; those without a file run with seeded random weights "
                                   "(agreement only)")
    RES.add_sweep(p, default=None, help="comma-separated square input sizes (default: each model's own)")
    PRECISION.add_sweep(p, default="fp32",
                        help="comma-separated: fp32, fp16, bf16 (fp16 needs CUDA; bf16 runs on CPU too)")
    FLIP.add_sweep(p, default="off", help="off, on or off,on: flip test-time augmentation")
    SCALES.add_sweep(p, default=["1"], nargs="+",
                     help="sets of test scales, each comma-separated: e.g. --scales 1 0.5,0.75,1,1.25,1.5")
    ENGINE.add_sweep(p, default=",".join(ExploreGrid.engine), help="comma-separated, from the engine registry: " +
                     "; ".join(f"{k.name}: {k.help}" for k in BACKENDS.values()))
    DATA.add(p, help="COCO folder or annotation .json (AP), MOTChallenge sequence folder with img1/ and gt/gt.txt "
                     "(HOTA, IDF1, MOTA of the default tracker), image folder or video (agreement); default: frames "
                     "of the demo clip")
    d = ExploreOptions()   # the defaults, declared once
    OUT.add(p, default=d.out, help=f"output folder (default: {d.out})")
    MAX_IMAGES.add(p)
    WARMUP.add(p, default=d.warmup, help=f"untimed runs before timing (default {d.warmup})")
    DEVICE.add(p, default=d.device, help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--paper", action="store_true", help="add the paper's headline points (Titan Xp) to the plot")
    p.add_argument("--no-defaults", dest="defaults", action="store_false",
                   help="leave the shipped default models out of the sweep")
    QUIET.add(p)
    p.set_defaults(func=run)


"""`main.py weights list | download | inspect | convert`: the command-line side of zoo.py, download.py
and weights.py (argument parsing and printing only)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.options import ARCH, EXIT_PARTIAL_FAILURE, EXIT_USER_ERROR, OUT, QUIET, TASK
from app.cli.progress import bars
from centernet.errors import CenterNetError
from centernet.models.checkpoint import read_checkpoint
from centernet.models.download import download
from centernet.models.inspection import convert_file, inspect_file
from centernet.models.zoo import DEFAULT_MODELS, ZOO, cache_dir, read_manifest, zoo_entry


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help="list, download, inspect and convert checkpoint files")
    actions = p.add_subparsers(dest="weights_action", metavar="ACTION")
    p.set_defaults(func=lambda args: _usage(p))

    a = actions.add_parser("list", help="the original model zoo and the shipped default models, and which are here")
    a.set_defaults(func=cmd_list)

    a = actions.add_parser("download", help="download zoo files into the cache (resumable, verified)")
    a.add_argument("names", nargs="+", metavar="NAME", help="zoo names from `weights list`, or all")
    a.add_argument("--force", action="store_true", help="download again even if the file is present")
    QUIET.add(a)
    a.set_defaults(func=cmd_download)

    a = actions.add_parser("inspect", help="what a checkpoint file is, and whether it loads strictly")
    a.add_argument("file", type=Path)
    ARCH.add(a, help="check that it loads as this arch")
    TASK.add(a, help="check that it loads as this task")
    a.add_argument("--json", action="store_true", help="print the report as JSON")
    a.set_defaults(func=cmd_inspect)

    a = actions.add_parser("convert", help="convert between our checkpoint format and the original's")
    a.add_argument("file", type=Path)
    a.add_argument("--to", required=True, choices=("ours", "original"), help="the format to write")
    OUT.add(a, help="output file (default: beside the input, _ours / _original)")
    a.set_defaults(func=cmd_convert)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USER_ERROR


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def cmd_list(args) -> int:
    folder = cache_dir()
    recorded = read_manifest(folder)["files"]
    rows = [["name", "task", "arch", "dataset", "metric", "AP 1-scale / flip / multi-scale", "ms (Titan Xp)",
             "size", "local"]]
    for e in ZOO:
        path, part = folder / e.filename, folder / (e.filename + ".part")
        size = recorded.get(e.filename, {}).get("size")
        if path.exists():
            local, size = "yes" if e.filename in recorded else "yes (unverified)", path.stat().st_size
        elif part.exists():
            local = f"partial ({_size(part.stat().st_size)})"
        else:
            local = "-"
        rows.append([e.name, e.task, e.arch, e.dataset, e.metric, e.ap_text(), e.ms_text(), _size(size), local])
    print(f"Original model zoo (xingyizhou/CenterNet), cache folder {folder} (set CENTERNET_HOME to move it):")
    print(_table(rows))
    rows = [["name", "task", "arch", "size", "local", "path"]]
    for task, path in DEFAULT_MODELS.items():
        arch = "?"
        if path.exists():
            try:
                arch = read_checkpoint(path)[0].arch
            except CenterNetError:
                arch = "unreadable"
        rows.append([path.stem, task, arch, _size(path.stat().st_size) if path.exists() else "",
                     "yes" if path.exists() else "missing", str(path)])
    print("\nShipped default models (used when no --weights is given):")
    print(_table(rows))
    print("\nDownload with `main.py weights download NAME` (or all); "
          "inspect any file with `main.py weights inspect FILE`.")
    return 0


def cmd_download(args) -> int:
    names = [e.name for e in ZOO] if "all" in args.names else [zoo_entry(n).name for n in args.names]
    failed = 0
    for name in dict.fromkeys(names):
        try:
            got = download(name, force=args.force, progress=bars(args.quiet))
        except CenterNetError as e:
            if len(names) == 1:
                raise
            print(f"error: {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        what = "already present" if got.skipped else "downloaded and verified"
        print(f"{name}: {what}, {_size(got.size)}, sha256 {got.sha256}, {got.path}")
    if failed:
        print(f"{failed} of {len(names)} downloads failed", file=sys.stderr)
        return EXIT_USER_ERROR if failed == len(names) else EXIT_PARTIAL_FAILURE
    return 0


def format_report(r) -> str:
    """The `weights inspect` report as aligned lines."""
    lines = [("file", f"{r.path} ({_size(r.size)})")]
    if r.format:
        lines.append(("format", r.format))
    if r.arch:
        lines += [("arch", r.arch), ("task", r.task)]
    if r.class_names:
        shown = ", ".join(r.class_names[:5]) + (", ..." if r.num_classes > 5 else "")
        lines.append(("classes", f"{r.num_classes} ({shown})"))
    if r.heads:
        lines.append(("heads", ", ".join(f"{k} {v}" for k, v in r.heads.items())))
    if r.input_size:
        lines.append(("input size", f"{r.input_size[0]}x{r.input_size[1]} (h x w)"))
    lines.append(("parameters", f"{r.parameters / 1e6:.2f} M ({r.parameters:,}), {r.tensors} tensors, "
                                f"{'/'.join(r.dtypes)}"))
    if r.sha256:
        lines.append(("sha256", r.sha256))
    if r.zoo_name:
        lines.append(("zoo", f"{r.zoo_name} in the cache manifest"))
    if r.loads:
        lines.append(("loads", f"yes, strictly, as {r.task} {r.arch}"))
        lines += [("warning", f"not the standard {r.task} {r.arch} layout: {note}") for note in r.layout_notes]
    else:
        lines.append(("loads", "no"))
        lines += [("closest" if i == 0 else "", c.describe()) for i, c in enumerate(r.closest)] or \
            [("closest", "no known arch/task fits any of its tensors")]
    return "\n".join(f"{k:<11} {v}" for k, v in lines)


def cmd_inspect(args) -> int:
    report = inspect_file(args.file, arch=args.arch, task=args.task)
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_report(report))
    if not report.loads:
        print(f"error: {report.error}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def cmd_convert(args) -> int:
    out, info, notes = convert_file(args.file, args.to, args.out)
    print(f"wrote {out}: {info.describe()} in the {args.to} format")
    for note in notes:
        print(f"note: the original format does not keep the {note}")
    return 0

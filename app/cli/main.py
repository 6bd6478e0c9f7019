"""The command line: the parser of every command and the guard that turns user errors into exit codes.
`main.py` and the `centernet` script call `main`; each command lives in its own module beside this one."""
from __future__ import annotations

import argparse
import sys

from app.cli import annotate, bench, demo, detect, explore, export, gui, track, train, weights
from app.cli.options import EXIT_INTERRUPTED, EXIT_USER_ERROR, with_examples
from centernet.errors import CenterNetError
from centernet.library_logs import route_library_logs


class OneLineErrors(argparse.ArgumentParser):
    """A usage error in one line that names the problem and where the fix is (argparse prints its whole usage
    block first: 12 lines for gui, with the one that matters last). Its commands' parsers are of this class too
    (`add_subparsers` makes them of the parent's)."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


EXAMPLES = (
    ("centernet", "the demo: the shipped model on the demo clip (the window, or headless)"),
    ("centernet gui --source 0", "the desktop app on camera 0"),
    ("centernet gui --headless --source clip.mp4 --serve 8080", "no window: a readout, and the video in a browser"),
    ("centernet detect photos/ --out drawn/", "boxes drawn on every image of a folder"),
    ("centernet annotate videos/ --format coco,mot --track", "a whole collection annotated (resumable)"),
    ("centernet COMMAND --help", "a command's own options and examples"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="centernet", description="CenterNet Live: objects as points, in real time",
                           **with_examples(EXAMPLES))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    detect.add_parser(sub)
    gui.add_parser(sub)
    weights.add_parser(sub)
    bench.add_parser(sub)
    export.add_parser(sub)
    annotate.add_parser(sub)
    train.add_parser(sub)
    explore.add_parser(sub)
    track.add_parser(sub)
    for command in sub.choices.values():   # every command: the libraries' own messages (see route_library_logs)
        command.add_argument("--verbose", action="store_true",
                             help="also show what FFmpeg, OpenCV and Ray print themselves (hidden by default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        route_library_logs(verbose=False)
        return _guarded(lambda: demo.run_main_job(main))
    args = parser.parse_args(argv)
    route_library_logs(verbose=getattr(args, "verbose", False))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    return _guarded(lambda: args.func(args))


def _guarded(fn) -> int:
    """Run a command; a user error becomes one line on stderr and exit code 2."""
    try:
        return int(fn() or 0)
    except CenterNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        if e.filename is None:
            raise  # not a file problem: keep the traceback for the bug report
        # last resort for a write that no early check foresaw (a full disk): the path and the reason
        print(f"error: cannot use {e.filename}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USER_ERROR

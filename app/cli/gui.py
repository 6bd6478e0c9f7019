"""`main.py gui`: the desktop app, or with --headless the same pipeline printing its readout each second."""
from __future__ import annotations

import argparse
import math

from app.cli.options import SERVE, SOURCE, SOURCES_FILE, THRESHOLD, TRACK, \
    add_model_options, detector_config, with_examples
from app.web import parse_address
from centernet.errors import ConfigError
from centernet.io.sources import CAMERAS_PROBED, list_cameras
from centernet.live.stream import read_sources


EXAMPLES = (
    ("centernet gui --source 0", "the window on camera 0"),
    ("centernet gui --source rtsp://cam/1 --source clip.mp4", "two streams, one model, in a grid"),
    ("centernet gui --source clip.mp4 --track", "track ids and trails"),
    ("centernet gui --headless --source 0 --serve 8080", "no window: a readout each second, the video at "
                                                        "http://127.0.0.1:8080/"),
    ("centernet gui --headless --fast --source clip.mp4", "every frame, as fast as the model goes"),
    ("centernet gui --list-cameras", "the camera indices OpenCV can open"),
)


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="the desktop app: live detection on a camera, video, folder or stream",
                       **with_examples(EXAMPLES))
    SOURCE.add(p, help=SOURCE.help + "; repeat it to play several streams through one model (the window "
                                     "shows them in a grid)")
    SOURCES_FILE.add(p)
    # the live view runs at the fastest precision by default (bf16 where the CPU has it); detect keeps fp32
    add_model_options(p, precision="auto")
    THRESHOLD.add(p, help="score threshold for drawing (default: the window's last used, else 0.3; headless: 0.3)")
    p.add_argument("--headless", action="store_true", help="no window: run the pipeline, print the readout each second")
    p.add_argument("--max-seconds", type=float, help="headless: stop after this many seconds; window: close it this long after the model is ready")
    p.add_argument("--max-frames", type=int, help="headless: stop after this many frames")
    p.add_argument("--fast", action="store_true", help="play files as fast as the model goes, not at their frame rate")
    p.add_argument("--loop", action="store_true", help="loop video files")
    p.add_argument("--hold-frames", action="store_true",
                   help="show only the frames the model ran on (for judging accuracy); default: every frame at the "
                        "source's rate with the newest detections")
    TRACK.add(p, help="track ids and trails (ByteTrack, the tracker of annotate --track)")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                   help="One-Euro smoothing of boxes and skeletons, this run only (default: the window's Smooth "
                        "toggle, on for pose models until switched off)")
    p.add_argument("--motion", action=argparse.BooleanOptionalAction, default=True,
                   help="move the boxes of frames the model skipped to where their objects are "
                        "(optical flow, else their tracks; default: on)")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="headless or several sources: give up on a source that never gave a frame after this "
                        "long (default 30; 0: never; a stream that worked and dropped keeps reconnecting; with several "
                        "sources the others go on)")
    SERVE.add(p)
    p.add_argument("--list-cameras", action="store_true",
                   help="print the camera indices OpenCV can open here (for --source N) and exit")
    p.set_defaults(func=run)


def check_limits(args) -> None:
    """Before Qt or the model load: -1 or nan seconds would never stop (or stop at once), 0 frames shows nothing."""
    if args.max_seconds is not None and not (math.isfinite(args.max_seconds) and args.max_seconds > 0):
        raise ConfigError(f"--max-seconds {args.max_seconds:g} is not a positive number of seconds: give e.g. 30, "
                          f"or leave it out to run until the source ends")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames {args.max_frames} is below 1: give a whole number of at least 1, or leave "
                          f"it out")


def sources_of(args) -> list[str]:
    """--source (each, in order) then the lines of --sources FILE (its errors name the line)."""
    sources = list(getattr(args, "source_list", None) or ([args.source] if args.source else []))
    if args.sources_file is not None:
        sources += read_sources(args.sources_file)
    return sources


def cameras_text(found: list[int], probed: int = CAMERAS_PROBED) -> str:
    """What `--list-cameras` prints."""
    if not found:
        return f"no camera found (OpenCV opened none of indices 0-{probed - 1})"
    return "cameras: " + ", ".join(str(i) for i in found) + " (pass one as --source N)"


def run(args) -> int:
    if args.list_cameras:
        print(cameras_text(list_cameras()))
        return 0
    check_limits(args)
    sources = sources_of(args)
    if args.serve is not None and not args.headless:
        raise ConfigError("--serve needs --headless (the window shows the video itself): add --headless")
    serve = parse_address(args.serve) if args.serve is not None else None
    if args.headless:   # no Qt at all: it runs where PyQt6 is not installed
        from app.gui.headless import HeadlessOptions, run_headless
        options = HeadlessOptions(sources=tuple(sources), threshold=args.threshold, max_seconds=args.max_seconds,
                                  max_frames=args.max_frames, realtime=not args.fast, loop=args.loop,
                                  hold_frames=args.hold_frames, track=args.track, smooth=args.smooth,
                                  motion=args.motion, connect_timeout_s=args.connect_timeout or None,
                                  verbose=args.verbose, serve=serve)
        return run_headless(options, detector_config(args))
    args.source = sources[0] if sources else None   # one source: the window as before
    args.source_specs = sources                      # several: its grid of streams
    from app.gui.main import run_gui  # Qt (app.gui) is an optional dependency: loaded only when the GUI runs
    return run_gui(args, detector_config(args))

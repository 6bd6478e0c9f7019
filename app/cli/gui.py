"""`main.py gui`: the desktop app, or with --headless the same pipeline printing its readout each second."""
from __future__ import annotations

import argparse

from app.cli.options import add_model_options, detector_config
from centernet.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="the desktop app: live detection on a camera, video, folder or stream")
    p.add_argument("--source", help="camera index, video file, image folder, image or URL (rtsp://, http://)")
    add_model_options(p)
    p.add_argument("--threshold", type=float, help="score threshold for drawing (default: last used, else 0.3)")
    p.add_argument("--headless", action="store_true", help="no window: run the pipeline, print the readout each second")
    p.add_argument("--max-seconds", type=float, help="headless: stop after this many seconds; window: close it this long after the model is ready")
    p.add_argument("--max-frames", type=int, help="headless: stop after this many frames")
    p.add_argument("--fast", action="store_true", help="play files as fast as the model goes, not at their frame rate")
    p.add_argument("--loop", action="store_true", help="loop video files")
    p.add_argument("--hold-frames", action="store_true",
                   help="show only the frames the model ran on (for judging accuracy); default: every frame at the "
                        "source's rate with the newest detections")
    p.add_argument("--track", action="store_true",
                   help="track ids and trails (ByteTrack, the tracker of annotate --track)")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                   help="One-Euro smoothing of boxes and skeletons, this run only (default: the window's Smooth "
                        "toggle, on for pose models until switched off)")
    p.add_argument("--motion", action=argparse.BooleanOptionalAction, default=True,
                   help="move the boxes of frames the model skipped along their tracks (default: on)")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="headless: give up on a source that never gave a frame after this long (0: never; "
                        "a stream that worked and dropped keeps reconnecting)")
    p.add_argument("--verbose", action="store_true", help="keep FFmpeg's and OpenCV's own log lines")
    # the live view runs at the fastest precision by default (bf16 where the CPU has it); detect keeps fp32
    p.set_defaults(func=run, precision="auto")


def run(args) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold {args.threshold} is outside 0..1")
    if args.headless:   # no Qt at all: it runs where PyQt6 is not installed
        from app.gui.headless import HeadlessOptions, run_headless
        options = HeadlessOptions(source=args.source, threshold=args.threshold, max_seconds=args.max_seconds,
                                  max_frames=args.max_frames, realtime=not args.fast, loop=args.loop,
                                  hold_frames=args.hold_frames, track=args.track, smooth=args.smooth,
                                  motion=args.motion, connect_timeout_s=args.connect_timeout or None,
                                  verbose=args.verbose)
        return run_headless(options, detector_config(args))
    from app.gui.main import run_gui  # Qt (app.gui) is an optional dependency: loaded only when the GUI runs
    return run_gui(args, detector_config(args))

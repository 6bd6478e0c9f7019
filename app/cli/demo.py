"""The main job, `python main.py` with no arguments.

With a display: the GUI on the shipped demo clip with the default model. Without one (a server, CI):
`annotate` on that clip, then print where the rendered video and the COCO JSON are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from app.display import has_display
from centernet.models.zoo import ASSETS

DEMO_CLIP = ASSETS / "demo" / "bikes.mp4"
DEMO_OUT = Path("out") / "demo"


def run_main_job(main: Callable[[list[str]], int]) -> int:
    """`main` runs one command line (app.cli.main.main, passed in so that demo does not import main)."""
    if has_display():
        return main(["gui", "--source", str(DEMO_CLIP)])
    print(f"no display: annotating the demo clip {DEMO_CLIP} instead of opening the window", flush=True)
    code = main(["annotate", str(DEMO_CLIP), "--out", str(DEMO_OUT), "--format", "coco,csv,video",
                 "--overwrite", "--track"])
    if code == 0:
        folder = DEMO_OUT / DEMO_CLIP.stem
        for name in sorted(n for n in os.listdir(folder) if not n.startswith(".")) if folder.is_dir() else []:
            print(f"  {folder / name}")
        print("open the rendered .mp4 to see the boxes; the .json is COCO format (pycocotools loads it)")
    return code

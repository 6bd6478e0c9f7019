"""Copy the shared test data the CUDA tests need into carry/shared (git-ignored), for a lent GPU machine.

../shared does not travel to that machine; carry/ does when the device tool's `run` names it in
`carry`, and tests/conftest.py looks there (or in $CENTERNET_TEST_SHARED) before ../shared.
About 3.5 MB. Usage: python tools/gpu_carry.py [--shared ../shared]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED = (
    # real images of the graph-vs-eager tests (tests/centernet/inference/test_frame_pipeline.py CASES)
    "data/images/bus.jpg", "data/images/zidane.jpg", "data/images/messi5.jpg", "data/images/basketball1.png",
    "data/kitti/000008.png", "data/kitti/000008.txt",
    "data/kitti/training/image_2/000000.png", "data/kitti/training/image_2/000001.png",
    # the seeded original-layout weights (tests/conftest.py seeded_state_dict)
    "reference/harness/seeded_weights.py",
    "reference/official_layout/ctdet_res_18.json", "reference/official_layout/multi_pose_dla_34.json",
    "reference/official_layout/ddd_dla_34.json",
)


def copy_needed(shared: Path, dest: Path) -> list[str]:
    """Copy NEEDED from `shared` to `dest`; returns the paths that were missing."""
    missing = []
    for rel in NEEDED:
        src = shared / rel
        if not src.exists():
            missing.append(rel)
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--dest", type=Path, default=ROOT / "carry" / "shared")
    args = parser.parse_args()
    missing = copy_needed(args.shared, args.dest)
    size = sum(p.stat().st_size for p in args.dest.rglob("*") if p.is_file())
    print(f"{args.dest}: {len(NEEDED) - len(missing)} files, {size / 1e6:.1f} MB"
          + (f"; missing in {args.shared}: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())

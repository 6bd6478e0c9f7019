"""The shipped default models, the original model zoo table, and the local cache of zoo files.

The zoo is the original's (xingyizhou/CenterNet `readme/MODEL_ZOO.md`): Google Drive files, with the
accuracy and speed published there (Titan Xp). Downloaded files live in the cache folder
(`~/.cache/centernet`, or `$CENTERNET_HOME`) as `NAME.pth`; `manifest.json` beside them records the
sha256 and size of each verified download, since no official checksums are published.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from centernet.errors import CheckpointError, ConfigError
from centernet.io.writers.atomic import write_json_atomic

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_MODELS = {
    "ctdet": ASSETS / "models" / "centernet_mobilenetv3.pth",
    "multi_pose": ASSETS / "models" / "movenet_multipose.pth",
}

HOME_ENV = "CENTERNET_HOME"
MANIFEST_NAME = "manifest.json"
DRIVE_PAGE = "https://drive.google.com/file/d/{id}"


def default_weights(task: str = "ctdet") -> Path:
    """The shipped checkpoint used when no --weights is given."""
    path = DEFAULT_MODELS.get(task)
    if path is None:
        raise CheckpointError(f"no default model for task {task!r}: pass --weights (see `main.py weights list`)")
    if not path.exists():
        raise CheckpointError(f"default model missing: {path} (rebuild it with tools/convert_default_models.py "
                              f"or pass --weights)")
    return path


@dataclass(frozen=True)
class ZooEntry:
    """One file of the original model zoo, with its published numbers.

    `ap` and `ms` are (1-scale, flip, multi-scale) as published; None where a setting was not
    reported. `note` holds numbers that do not fit those columns (KITTI's easy/moderate/hard).
    """

    name: str
    task: str
    arch: str
    dataset: str
    ap: tuple
    ms: tuple
    drive_id: str
    num_classes: int = 80
    input_res: tuple = (512, 512)
    metric: str = "AP"
    note: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.pth"

    @property
    def page(self) -> str:
        return DRIVE_PAGE.format(id=self.drive_id)

    def ap_text(self) -> str:
        if all(v is None for v in self.ap):
            return self.note
        return " / ".join("-" if v is None else f"{v:.1f}" for v in self.ap)

    def ms_text(self) -> str:
        return " / ".join("-" if v is None else f"{v:g}" for v in self.ms)


def _coco(name, arch, ap, ms, drive_id):
    return ZooEntry(name, "ctdet", arch, "COCO", ap, ms, drive_id, metric="box AP")


def _pose(name, arch, ap, ms, drive_id):
    # the pose models are tested with flip by default: their one published number is the flip one
    return ZooEntry(name, "multi_pose", arch, "COCO keypoints", (None, ap, None), (None, ms, None), drive_id,
                    num_classes=1, metric="keypoint AP")


def _voc(name, arch, res, mean_ap, ms, drive_id):
    return ZooEntry(name, "ctdet", arch, "Pascal VOC", (None, mean_ap, None), (None, ms, None), drive_id,
                    num_classes=20, input_res=(res, res), metric="mAP@0.5")


def _kitti(name, split, note, drive_id):
    return ZooEntry(name, "ddd", "dla_34", f"KITTI {split}", (None, None, None), (31, None, None), drive_id,
                    num_classes=3, input_res=(384, 1280), metric="3D AP", note=note)


ZOO: tuple[ZooEntry, ...] = (
    _coco("ctdet_coco_hg", "hourglass", (40.3, 42.2, 45.1), (71, 129, 674), "13F904yXltGIqa_K3g3-FLleaNX0n7c9O"),
    _coco("ctdet_coco_dla_1x", "dla_34", (36.3, 38.2, 40.7), (19, 36, 248), "1xqFsdA3DANMq1MfnXG8n7nQPe4AfXTHv"),
    _coco("ctdet_coco_dla_2x", "dla_34", (37.4, 39.2, 41.7), (19, 36, 248), "18Q3fzzAsha_3Qid6mn4jcIFPeOGUaj1d"),
    _coco("ctdet_coco_resdcn101", "resdcn_101", (34.6, 36.2, 39.3), (22, 40, 259),
          "1tKkSyzC3iWmM6XTYNJrC4XLCIToDmnHz"),
    _coco("ctdet_coco_resdcn18", "resdcn_18", (28.1, 30.0, 33.2), (7, 14, 81), "1RtFps3kQAyLjQyzCao7pPDclOBQ64Vyp"),
    _pose("multi_pose_hg_1x", "hourglass", 58.7, 151, "1neg1zfVjRTS45FCdk5hgIV-TxJ0McAew"),
    _pose("multi_pose_hg_3x", "hourglass", 64.0, 151, "17-YS11iguOQKwPPHUg8LzakLzrgKSLfA"),
    _pose("multi_pose_dla_1x", "dla_34", 54.7, 44, "1WKqVdkIew43SxLTSxi81a-_f4Q9v2Fx5"),
    _pose("multi_pose_dla_3x", "dla_34", 58.9, 44, "1mC2PAQT_RuHi_9ZMZgkt4rg7BSY2_Lkd"),
    _kitti("ddd_3dop", "3DOP", "AP-E/M/H 96.9/87.8/79.2, BEV 34.0/30.5/26.8", "1LrAzVJqlZECVuyr_NJI_4xd88mA1fL5b"),
    _kitti("ddd_sub", "SubCNN", "AP-E/M/H 89.6/79.8/70.3, BEV 34.9/27.7/26.4", "1ZUsUqrM_yTjxaJuDBxm0WTKXj1snVuvP"),
    _voc("ctdet_pascal_dla_384", "dla_34", 384, 79.3, 20, "19J7WoUZKYiSEU7vrhZInz5C2m0-9zmC1"),
    _voc("ctdet_pascal_dla_512", "dla_34", 512, 80.7, 30, "1Iqqr_VLtG8T3tUzy-EuMaeuCtFuv6pEU"),
    _voc("ctdet_pascal_resdcn18_384", "resdcn_18", 384, 72.6, 7, "1mpeslWUt0aJqx99_-UcCzJ7GBcD6sCA-"),
    _voc("ctdet_pascal_resdcn18_512", "resdcn_18", 512, 75.7, 10, "1ILnmGrJQiDK2Ib-D7TzBs2fq5bfju-Bd"),
    _voc("ctdet_pascal_resdcn101_384", "resdcn_101", 384, 77.1, 22, "1-Qy4zMhzmBk9fMF0u2s5zNI0Uj9latsk"),
    _voc("ctdet_pascal_resdcn101_512", "resdcn_101", 512, 78.7, 33, "1TiJkPaofzUaEMLi5wr9TIIUY8G2VewCQ"),
)
ZOO_BY_NAME = {entry.name: entry for entry in ZOO}


def zoo_entry(name: str) -> ZooEntry:
    """The zoo entry called `name` (a trailing .pth is allowed); a ConfigError names close matches."""
    key = name[:-4] if name.endswith(".pth") else name
    if key in ZOO_BY_NAME:
        return ZOO_BY_NAME[key]
    close = difflib.get_close_matches(key, list(ZOO_BY_NAME), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(f"no zoo model called {name!r}: {hint}`main.py weights list` shows the names")


def cache_dir() -> Path:
    """Where zoo files are downloaded: $CENTERNET_HOME, else ~/.cache/centernet."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "centernet").expanduser()


def zoo_path(name: str, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / zoo_entry(name).filename


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path | None = None) -> dict:
    """The cache's manifest, {"files": {file name: {"sha256", "size", ...}}}; empty when absent or unreadable."""
    path = (folder or cache_dir()) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"files": {}}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"files": {}}
    return data


def record_file(path: Path, sha256: str, **fields) -> dict:
    """Add (or replace) a file's entry in the manifest of its folder; written atomically."""
    folder = path.parent
    manifest = read_manifest(folder)
    entry = {"sha256": sha256, "size": path.stat().st_size,
             "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}
    manifest["files"][path.name] = entry
    _write_json_atomic(manifest, folder / MANIFEST_NAME)
    return entry


def manifest_name_for(sha256: str, folder: Path | None = None) -> str | None:
    """The cached file name whose recorded sha256 is this one, if any."""
    for name, entry in read_manifest(folder)["files"].items():
        if entry.get("sha256") == sha256:
            return name
    return None


def _write_json_atomic(obj, path: Path) -> None:
    write_json_atomic(path, obj, indent=1, sort_keys=True)

"""`FrameRecord`: one annotated frame, the unit every writer consumes and the chunk files store.

Records round-trip through JSON exactly (float32 values are stored as the float64 numbers that equal
them), so exports built from records read back from disk equal exports built from fresh ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from centernet.detections import Detections

_INT_FIELDS = ("labels", "track_ids")
_FIELDS = ("boxes", "scores", "labels", "keypoints", "keypoint_scores", "depth", "dims", "alpha", "location",
           "rotation_y", "track_ids")


@dataclass
class FrameRecord:
    """Detections of one frame, in image pixels, with where the frame came from.

    index: 0-based frame index in the source (a file's frames are numbered as OpenCV counts them,
    undecodable ones included); time_ms: the container's timestamp; image_id: the COCO image id;
    file_name: the image's name for folder inputs, else None. `dets.track_ids` holds a track id per
    detection when tracking (-1 for a detection whose track is not yet born).
    """

    index: int
    time_ms: float
    width: int
    height: int
    image_id: int
    dets: Detections
    file_name: str | None = None

    def to_json(self) -> dict:
        d = {"index": self.index, "time_ms": self.time_ms, "width": self.width, "height": self.height,
             "image_id": self.image_id, "file_name": self.file_name}
        arrays = self.dets.numpy()
        d["dets"] = {name: value.tolist() for name, value in arrays.items()}
        d["dets"]["shapes"] = {name: list(value.shape[1:]) for name, value in arrays.items() if value.ndim > 1}
        return d

    @staticmethod
    def from_json(d: dict) -> "FrameRecord":
        raw = d["dets"]
        shapes = raw.get("shapes", {})
        fields = {}
        for name in _FIELDS:
            if name in raw:
                dtype = torch.int64 if name in _INT_FIELDS else torch.float32
                fields[name] = torch.tensor(raw[name], dtype=dtype).reshape(-1, *shapes.get(name, []))
        return FrameRecord(int(d["index"]), float(d["time_ms"]), int(d["width"]), int(d["height"]),
                           int(d["image_id"]), Detections(**fields), d.get("file_name"))

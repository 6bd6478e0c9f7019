"""The images every configuration runs on (a COCO set with its ground truth, an image folder, frames of a
video or of the demo clip) and their fingerprint for the cache."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centernet.data import load_dataset
from centernet.data.coco import AnnotationFileError
from centernet.data.samples import DetectionSet
from centernet.errors import CenterNetError, InputError
from centernet.io.mot_files import read_mot_tracks
from centernet.geometry.transforms import as_bgr_uint8
from centernet.io.sources import VIDEO_EXTENSIONS, frames_spread_over, images_in_folder, read_image
from centernet.models.zoo import ASSETS

DEFAULT_FRAMES = 16  # frames of the demo clip or a video when no --max-images is given


class ImageFiles(Sequence):
    """Images read from their files each time they are used, never held: a long 1080p sequence (a MOT17
    one's 1050 frames are 6.5 GB decoded) runs in the memory of a frame. Reading sits outside every timed
    stage (the detector times its own stages)."""

    def __init__(self, files):
        self.files = [Path(f) for f in files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ImageFiles(self.files[i])
        return as_bgr_uint8(read_image(self.files[range(len(self.files))[i]]))


@dataclass
class ImageSet:
    """The images every configuration runs on, and the ground truth per task where the data has it."""

    name: str
    images: list
    image_ids: list
    gt: dict = field(default_factory=dict)      # task -> DetectionSet (with coco_gt)
    notes: list = field(default_factory=list)
    fingerprint: str = ""
    track_gt: np.ndarray | None = None          # MOTChallenge ground truth (frame, id, x1, y1, x2, y2): frames in order
    shapes: list = field(default_factory=list)  # each image's shape, taken with the fingerprint (images may stay on disk)

    def shape(self, index: int) -> tuple:
        return self.shapes[index]

    def sizes(self) -> list[tuple[int, int, int]]:
        """(image id, width, height) per image."""
        return [(image_id, w, h) for image_id, (h, w, *_) in zip(self.image_ids, self.shapes)]


def load_images(data, tasks, max_images: int | None = None) -> ImageSet:
    """`--data`: a COCO folder or annotation file (with ground truth), an image folder, a video, or
    nothing (frames of the demo clip). Only the first `max_images` are used."""
    tasks = [t for t in ("ctdet", "multi_pose") if t in set(tasks)] or ["ctdet"]
    if data is None:
        clip = ASSETS / "demo" / "bikes.mp4"
        if not clip.exists():
            raise InputError(f"no --data given and the demo clip {clip} is missing: give --data")
        frames = _video_frames(clip, max_images or DEFAULT_FRAMES)
        return _fingerprinted(ImageSet(f"{len(frames)} frames of the demo clip", frames,
                                       list(range(1, len(frames) + 1)),
                                       notes=["no --data: agreement only, on frames of the demo clip"]))
    path = Path(data)
    if not path.exists():
        raise InputError(f"--data {path} does not exist: give a COCO folder or annotation .json, an image "
                         f"folder, a video or a MOTChallenge sequence")
    if is_mot_sequence(path):
        return load_mot_sequence(path, max_images)
    if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
        frames = _video_frames(path, max_images or DEFAULT_FRAMES)
        return _fingerprinted(ImageSet(f"{len(frames)} frames of {path.name}", frames,
                                       list(range(1, len(frames) + 1)),
                                       notes=[f"{path.name} has no ground truth: agreement only"]))
    sets, notes = {}, []
    for task in tasks:
        try:
            sets[task] = load_dataset(path, task, "val")
        except AnnotationFileError:
            raise   # a broken file is the user's to fix, not a reason to measure by agreement only
        except CenterNetError as e:
            notes.append(f"no {task} ground truth in {path} ({e}): {task} models are measured by agreement")
    if not sets:
        if path.is_dir():
            images = ImageFiles(images_in_folder(path)[: max_images or None])
            return _fingerprinted(ImageSet(f"{path.name} ({len(images)} images)", images,
                                           list(range(1, len(images) + 1)),
                                           notes=[f"{path} has no annotations: agreement only"]))
        raise InputError(f"--data {path}: no usable annotations ({'; '.join(notes)})")
    base = next(iter(sets.values())).subset(max_images)
    images = [s.load_image() for s in base.samples]
    ids = [s.image_id for s in base.samples]
    gt = {}
    for task, ds in sets.items():
        inside = {s.image_id for s in ds.samples} & set(ids)
        if not inside:
            notes.append(f"the {task} annotations cover none of the images: {task} models are measured by agreement")
            continue
        gt[task] = _restrict(ds, inside)
    return _fingerprinted(ImageSet(f"{path.name} ({len(images)} images)", images, ids, gt, notes))


def is_mot_sequence(path: Path) -> bool:
    """A MOTChallenge sequence folder: its frames in img1/, its tracks in gt/gt.txt."""
    return path.is_dir() and (path / "img1").is_dir() and (path / "gt" / "gt.txt").is_file()


def load_mot_sequence(path: Path, max_images: int | None) -> ImageSet:
    """The first `max_images` frames of a sequence (all by default: tracking needs them consecutive), with the
    ground-truth tracks of those frames. Frame n is image id n, as in the MOTChallenge files."""
    files = images_in_folder(path / "img1")[: max_images or None]
    if not files:
        raise InputError(f"--data {path}: no frames in {path / 'img1'}")
    gt = read_mot_tracks(path / "gt" / "gt.txt", ground_truth=True)
    gt = gt[gt[:, 0] <= len(files)]
    images = ImageFiles(files)
    return _fingerprinted(ImageSet(f"{path.name} ({len(images)} frames, {len(np.unique(gt[:, 1]))} tracks)", images,
                                   list(range(1, len(images) + 1)), track_gt=gt,
                                   notes=[f"{path.name}: MOTChallenge tracks, so person models are scored by "
                                          f"HOTA / IDF1 / MOTA of the default tracker; others by agreement"]))


def _restrict(ds, ids: set):
    samples = [s for s in ds.samples if s.image_id in ids]
    coco = {**ds.coco_gt, "images": [i for i in ds.coco_gt["images"] if i["id"] in ids],
            "annotations": [a for a in ds.coco_gt["annotations"] if a["image_id"] in ids]}
    return DetectionSet(ds.name, ds.task, samples, ds.class_names, ds.category_ids, coco, ds.num_joints)


def _video_frames(path: Path, count: int) -> list:
    """`count` frames spread evenly over a video; an error when none can be read."""
    frames = frames_spread_over(path, count)
    if not frames:
        raise InputError(f"cannot read frames from {path}: not a video OpenCV can decode")
    return frames


def _fingerprinted(images: ImageSet) -> ImageSet:
    """The set with its cache fingerprint and its images' shapes, from one pass over the images."""
    h = hashlib.sha256()
    images.shapes = []
    for i, img in zip(images.image_ids, images.images):   # one image at a time: files are read, hashed, let go
        h.update(f"{i}:{img.shape}".encode())
        h.update(np.ascontiguousarray(img).data)
        images.shapes.append(img.shape)
    for task in sorted(images.gt):
        anns = sorted(images.gt[task].coco_gt["annotations"], key=lambda a: (a["image_id"], a.get("id", 0)))
        h.update(task.encode())
        h.update(json.dumps(anns, sort_keys=True, default=str).encode())
    if images.track_gt is not None:
        h.update(np.ascontiguousarray(images.track_gt).data)
    images.fingerprint = h.hexdigest()[:20]
    return images


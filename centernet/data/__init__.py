"""Training and evaluation data: COCO-format, KITTI and synthetic sets, augmentation, loaders.

`load_dataset(spec, task)` turns what a user types after `--data` into a `DetectionSet`;
`CenterNetDataset` turns one into network inputs and training targets.
"""
from centernet.data.load import load_dataset
from centernet.data.samples import DetectionSet, Sample

__all__ = ["DetectionSet", "Sample", "load_dataset"]

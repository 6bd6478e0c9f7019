"""DetectorConfig: which model to load and how to run it, the one declaration the command line, the GUI,
explore and annotate all fill in (`Detector.from_config` builds the Detector)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DetectorConfig:
    """A model and how to run it; every field's default is what the command line defaults to."""

    weights: str | None = None                 # checkpoint or .onnx file; None: the shipped model for the task
    arch: str | None = None                    # override the arch read from the checkpoint
    task: str | None = None                    # ctdet, multi_pose or ddd (None: the checkpoint's)
    device: str = "auto"                       # cpu, cuda, cuda:N or auto
    keep_res: bool = False                     # keep the image resolution (padded), as the original
    input_size: tuple[int, int] | None = None  # network input (H, W); None: the checkpoint's
    flip: bool = False                         # flip test-time augmentation
    scales: tuple[float, ...] = (1.0,)         # test scales, merged with soft-NMS when several
    calib: Path | None = None                  # ddd camera: a calibration file, or a folder of per-image files
    engine: str = "auto"                       # see backends/registry.py ENGINE_NAMES
    precision: str = "fp32"                    # fp32, fp16, bf16 or auto

    def __post_init__(self):  # normalise the types callers pass (lists from JSON, str paths)
        if self.weights is not None:
            object.__setattr__(self, "weights", str(self.weights))
        if self.input_size is not None:
            object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "scales", tuple(float(v) for v in self.scales) or (1.0,))
        if self.calib is not None:
            object.__setattr__(self, "calib", Path(self.calib))

    @property
    def calib_folder(self) -> Path | None:
        """The folder of per-image calibration files, when `calib` is one (detect looks each image up)."""
        return self.calib if self.calib is not None and self.calib.is_dir() else None

    @property
    def calib_file(self) -> Path | None:
        """The one calibration file for every image, when `calib` is a file."""
        return self.calib if self.calib is not None and not self.calib.is_dir() else None

"""The device pre-processing reference (torch) against OpenCV, on the CPU."""
import cv2
import pytest
import torch

from centernet.inference.gpu_preprocess import preprocess_on_device
from centernet.geometry.transforms import PreprocessSpec, preprocess
from tests.conftest import DATA, need

RAW_RGB = dict(channel_order="rgb", pixel_scale=1.0, mean=(0, 0, 0), std=(1, 1, 1))
SPECS = {"affine": PreprocessSpec(), "stretch": PreprocessSpec(resize="stretch", **RAW_RGB),
         "pad_square": PreprocessSpec(resize="pad_square", input_size=(384, 384), **RAW_RGB),
         "pad_square_truncated": PreprocessSpec(resize="pad_square", input_size=(256, 256), truncate_pixels=True,
                                                **RAW_RGB)}


def grey_levels(a, b, spec):
    return ((a - b) * torch.tensor(spec.std).view(1, 3, 1, 1) / spec.pixel_scale).abs()


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_device_preprocessing_matches_opencv_on_real_images(name, image):
    spec = SPECS[name]
    img = cv2.imread(str(need(DATA / "images" / image)))
    host, tf = preprocess(img, spec)
    dev = preprocess_on_device(torch.from_numpy(img), tf, spec)
    d = grey_levels(host, dev, spec)
    assert float(d.mean()) <= 0.5 and float(d.max()) <= 4
    if name in ("affine", "pad_square_truncated") and cv2.__version__ >= "4.11":
        # OpenCV >= 4.11 warps in float32 and the truncated mode resizes in float64: reproduced exactly
        assert float(d.max()) < 1e-3

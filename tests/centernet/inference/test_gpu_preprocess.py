"""The device pre-processing reference (torch) against OpenCV, on the CPU."""
import cv2
import numpy as np
import pytest
import torch

from centernet.inference.frame_canvas import fill_canvas, plan_warps
from centernet.inference.gpu_preprocess import input_coordinates, preprocess_frames, preprocess_on_device
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


@pytest.mark.parametrize("name", sorted(SPECS))
def test_frames_of_different_sizes_on_one_canvas_warp_each_as_alone(name):
    """Each frame's warp is data (its matrix and own size, filled before a run): on a shared canvas with
    other pixels beyond its own size, a frame warps exactly as alone (those pixels read as the border;
    alone is checked against OpenCV above)."""
    spec = SPECS[name]
    images = [cv2.imread(str(need(DATA / "images" / n))) for n in ("bus.jpg", "zidane.jpg", "messi5.jpg")]
    warps = plan_warps("ctdet", spec, [im.shape[:2] for im in images])
    canvas = np.full((3, 1080, 1280, 3), 255, np.uint8)  # not the border value: must never be read
    canvas = torch.from_numpy(fill_canvas(canvas, images))
    x = preprocess_frames(canvas, torch.from_numpy(warps.matrices), torch.from_numpy(warps.sizes), spec,
                          input_coordinates(spec.input_size, "cpu"))
    for i, (image, tf) in enumerate(zip(images, warps.transforms)):
        alone = preprocess_on_device(torch.from_numpy(image), tf, spec)
        assert torch.equal(x[i:i + 1], alone), i

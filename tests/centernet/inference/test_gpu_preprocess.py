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
    x = preprocess_frames(canvas, torch.from_numpy(warps.matrices), torch.from_numpy(warps.sizes),
                          torch.from_numpy(warps.bounds), spec, input_coordinates(spec.input_size, "cpu"))
    for i, (image, tf) in enumerate(zip(images, warps.transforms)):
        alone = preprocess_on_device(torch.from_numpy(image), tf, spec)
        assert torch.equal(x[i:i + 1], alone), i


def small_frames():
    """Real frames smaller than the network input, so the resize modes enlarge them: a 176x144 video frame
    (a small camera's), messi5 (342x548: taller in stretch at 512) and bus.jpg shrunk to 150x200 (portrait:
    its pads are left and right)."""
    capture = cv2.VideoCapture(str(need(DATA / "video" / "carphone_pristine.mp4")))
    ok, carphone = capture.read()
    capture.release()
    assert ok
    bus = cv2.imread(str(need(DATA / "images" / "bus.jpg")))
    return {"carphone": carphone, "messi5": cv2.imread(str(need(DATA / "images" / "messi5.jpg"))),
            "bus_150x200": cv2.resize(bus, (150, 200), interpolation=cv2.INTER_AREA)}


ENLARGING = {"stretch": PreprocessSpec(resize="stretch", **RAW_RGB),
             "pad_square": PreprocessSpec(resize="pad_square", **RAW_RGB),
             "stretch_truncated": PreprocessSpec(resize="stretch", truncate_pixels=True, **RAW_RGB),
             "pad_square_truncated": PreprocessSpec(resize="pad_square", truncate_pixels=True, **RAW_RGB)}


@pytest.mark.parametrize("name", sorted(ENLARGING))
@pytest.mark.parametrize("image", ["carphone", "messi5", "bus_150x200"])
def test_an_enlarged_frame_repeats_its_edge_as_cv2_resize(name, image):
    """cv2.resize repeats the edge pixel of what it resizes (the frame, or the frame with its zero pads),
    so the outer rows and columns of an enlarged frame are its edge pixels, not a blend with 0 (33 to 141
    grey levels apart before). The uint8 modes differ by OpenCV's fixed-point weights (1 grey level at
    most); the truncated modes resize in float64 and are reproduced but for a floor at an integer
    boundary (float32 sums: one value of messi5's 786432 in stretch)."""
    spec = ENLARGING[name]
    img = small_frames()[image]
    host, tf = preprocess(img, spec)
    dev = preprocess_on_device(torch.from_numpy(img), tf, spec)
    d = grey_levels(host, dev, spec)
    assert float(d.mean()) <= 0.5 and float(d.max()) <= 1
    if spec.truncate_pixels:
        assert int((d > 1e-3).sum()) <= 4


@pytest.mark.parametrize("name", sorted(ENLARGING))
def test_an_enlarged_frame_on_a_canvas_of_larger_frames_warps_as_alone(name):
    """The edge a frame repeats is its own, not its slot's: small frames beside a larger one, the canvas
    beyond each frame 255, each warps exactly as alone, and so as the CPU path."""
    spec = ENLARGING[name]
    images = [cv2.imread(str(need(DATA / "images" / "zidane.jpg"))), *small_frames().values()]
    warps = plan_warps("ctdet", spec, [im.shape[:2] for im in images])
    canvas = torch.from_numpy(fill_canvas(np.full((len(images), 720, 1280, 3), 255, np.uint8), images))
    x = preprocess_frames(canvas, torch.from_numpy(warps.matrices), torch.from_numpy(warps.sizes),
                          torch.from_numpy(warps.bounds), spec, input_coordinates(spec.input_size, "cpu"))
    for i, (image, tf) in enumerate(zip(images, warps.transforms)):
        assert torch.equal(x[i:i + 1], preprocess_on_device(torch.from_numpy(image), tf, spec)), i
        assert float(grey_levels(preprocess(image, spec)[0], x[i:i + 1], spec).max()) <= 1, i

import json

import numpy as np
import pytest

from centernet.geometry.transforms import (KITTI_MEAN, KITTI_STD, PreprocessSpec, apply_affine, as_bgr_uint8,
                                            normalize, normalize_chw, output_points_to_image, plan_transform,
                                            preprocess, warp_image)
from tests.conftest import OFFICIAL_REF

SIZES = [(480, 640), (640, 480), (100, 1000), (1000, 37), (512, 512), (1, 1)]
MODES = [PreprocessSpec(), PreprocessSpec(keep_res=True), PreprocessSpec(resize="stretch"),
         PreprocessSpec(resize="pad_square", input_size=(384, 384))]


@pytest.mark.parametrize("spec", MODES, ids=["affine", "keep_res", "stretch", "pad_square"])
@pytest.mark.parametrize("hw", SIZES)
def test_image_to_output_map_and_back_is_identity(spec, hw):
    tf = plan_transform(spec, hw)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (50, 2)) * [hw[1], hw[0]]
    cells = apply_affine(pts, tf.matrix) / 4.0
    back = output_points_to_image(cells, tf, 4)
    assert np.abs(back - pts).max() < 1e-3


def test_affine_matches_the_original_matrix_and_centre_scale():
    ref = json.loads((OFFICIAL_REF / "ctdet_res_18" / "bus.json").read_text())
    h, w = 1080, 810  # bus.jpg
    tf = plan_transform(PreprocessSpec(), (h, w))
    assert np.array_equal(tf.matrix, np.asarray(ref["trans_input"]))
    assert tf.center.tolist() == ref["meta"]["c"] and tf.scale == ref["meta"]["s"]


def test_keep_res_pads_to_the_next_multiple_of_32():
    tf = plan_transform(PreprocessSpec(keep_res=True), (1080, 810))
    assert tf.input_size == (1088, 832)


def test_preprocess_normalises_bgr_in_float64_then_float32():
    img = np.full((4, 4, 3), [10, 128, 250], np.uint8)
    x, _ = preprocess(img, PreprocessSpec(resize="stretch", input_size=(4, 4)))
    mean, std = np.float32([0.408, 0.447, 0.470]), np.float32([0.289, 0.274, 0.278])
    want = ((np.array([10, 128, 250]) / 255.0 - mean) / std).astype(np.float32)
    assert x.shape == (1, 3, 4, 4) and x.dtype.is_floating_point
    assert np.array_equal(x[0, :, 0, 0].numpy(), want)


def test_rgb_order_and_raw_pixels_for_default_models():
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    spec = PreprocessSpec(resize="stretch", input_size=(8, 8), channel_order="rgb", pixel_scale=1.0,
                          mean=(0, 0, 0), std=(1, 1, 1))
    x, _ = preprocess(img, spec)
    assert float(x[0, 2].mean()) == 200.0 and float(x[0, 0].max()) == 0.0


LOOKUP_SPECS = [PreprocessSpec(), PreprocessSpec(mean=KITTI_MEAN, std=KITTI_STD),
                PreprocessSpec(resize="stretch", channel_order="rgb", pixel_scale=1.0, mean=(0, 0, 0), std=(1, 1, 1),
                               truncate_pixels=True),
                PreprocessSpec(channel_order="rgb", pixel_scale=1 / 127.5, mean=(1.0, 1.0, 1.0), std=(1, 1, 1))]


@pytest.mark.parametrize("spec", LOOKUP_SPECS, ids=["coco", "kitti", "movenet", "rgb_scaled"])
def test_lookup_normalisation_equals_the_float64_arithmetic_bit_for_bit(spec):
    """Every pixel level in every channel, warped as the detector warps (truncated floats for MoveNet)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    image[0, :3] = [[0, 0, 0], [255, 255, 255], [1, 254, 128]]
    tf = plan_transform(spec, image.shape[:2])
    warped = warp_image(image, spec, tf)
    assert (warped.dtype == np.float64) == spec.truncate_pixels
    want = np.ascontiguousarray(normalize(warped, spec).transpose(2, 0, 1))
    got = normalize_chw(warped, spec)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, want)
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)  # all 256 levels, each channel
    assert np.array_equal(normalize_chw(levels, spec), normalize(levels, spec).transpose(2, 0, 1))


@pytest.mark.parametrize("image", [np.zeros((5, 7), np.uint8), np.zeros((5, 7, 4), np.uint8),
                                   np.full((5, 7, 3), 65535, np.uint16), np.zeros((5, 7, 1), np.uint8)],
                         ids=["gray", "bgra", "16bit", "1ch"])
def test_odd_image_formats_become_bgr_uint8(image):
    out = as_bgr_uint8(image)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    if image.dtype == np.uint16:
        assert out.max() == 255

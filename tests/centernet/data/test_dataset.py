"""centernet/data: loading COCO / custom / synthetic sets, and image -> targets -> image round trips."""
import json

import numpy as np
import pytest
import torch

from centernet.classes import COCO_CLASSES, COCO_FLIP_PAIRS
from centernet.data import load_dataset
from centernet.data.augment import AugmentConfig, color_augment, crop_border, flip_keypoints
from centernet.data.coco import load_coco
from centernet.data.dataset import CenterNetDataset
from centernet.data.loader import EpochSampler, make_loader
from centernet.data.synthetic import make_synthetic, write_coco_folder
from centernet.inference.decode import ctdet_decode
from centernet.errors import ConfigError, InputError
from centernet.data.targets import scatter_at
from centernet.geometry.transforms import PreprocessSpec, affine_transform_matrix, apply_affine
from tests.conftest import DATA, need

SPEC = PreprocessSpec(input_size=(256, 256))


def test_coco_folder_loads_with_coco_class_order_and_real_images():
    root = need(DATA / "coco_mini")
    data = load_dataset(root, "ctdet")
    assert data.class_names == COCO_CLASSES and data.category_ids[-1] == 90
    assert len(data) == 79 and data.samples[0].path.exists()
    gt = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    non_crowd = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    assert sum(len(s) for s in data.samples) == non_crowd
    assert data.samples[0].load_image().ndim == 3


def test_person_keypoints_load_for_multi_pose():
    data = load_coco(need(DATA / "coco_mini"), "multi_pose")
    assert data.class_names == ("person",) and data.num_joints == 17
    with_kps = [s for s in data.samples if len(s)]
    assert with_kps and with_kps[0].keypoints.shape == (len(with_kps[0]), 17, 3)


def test_custom_coco_file_keeps_its_own_classes_and_ids(tmp_path):
    data = make_synthetic(3)
    ann = write_coco_folder(data, tmp_path / "shapes")
    gt = json.loads(ann.read_text())
    for c in gt["categories"]:
        c["id"] += 10  # ids need not be 1..N
    for a in gt["annotations"]:
        a["category_id"] += 10
    ann.write_text(json.dumps(gt))
    loaded = load_dataset(tmp_path / "shapes", "ctdet")
    assert loaded.class_names == ("rectangle", "ellipse", "triangle") and loaded.category_ids == (11, 12, 13)
    assert np.array_equal(loaded.samples[0].boxes, data.samples[0].boxes)
    assert np.array_equal(loaded.samples[0].load_image(), data.samples[0].image)  # PNG is lossless


def test_bad_data_paths_are_errors_for_people(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nope", "ctdet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="annotation"):
        load_dataset(tmp_path / "empty", "ctdet")
    with pytest.raises(ConfigError, match="KITTI"):
        load_dataset(need(DATA / "kitti"), "ctdet")


def test_synthetic_boxes_are_the_exact_extent_of_the_drawn_shapes():
    data = make_synthetic(6, seed=3)
    for s in data.samples:
        bg = np.median(s.image.reshape(-1, 3), axis=0)
        for box in s.boxes.astype(int):
            x1, y1, x2, y2 = box
            patch = np.abs(s.image[y1:y2, x1:x2].astype(int) - bg).sum(-1) > 60
            assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()


def _decode_to_image(item: dict, center, scale, k=20):
    """Targets of one item -> boxes in image pixels through the inverse output affine."""
    hm = torch.logit(item["hm"].clamp(1e-6, 1 - 1e-6))[None]
    out_hw = hm.shape[-2:]
    t = {k2: v.numpy() for k2, v in item.items()}
    wh = torch.from_numpy(scatter_at(t["wh"], t["ind"], t["reg_mask"], out_hw))[None]
    reg = torch.from_numpy(scatter_at(t["reg"], t["ind"], t["reg_mask"], out_hw))[None]
    dets = ctdet_decode(hm, wh, reg, k=k)
    dets = dets[dets.scores > 0.99]
    inv = affine_transform_matrix(center, scale, (out_hw[1], out_hw[0]), inverse=True)
    return apply_affine(dets.boxes.numpy().reshape(-1, 2, 2), inv).reshape(-1, 4), dets.labels.numpy()


def test_unaugmented_targets_decode_back_to_the_image_boxes():
    data = make_synthetic(4, size=(200, 300), seed=5)
    ds = CenterNetDataset(data, (256, 256), SPEC, AugmentConfig.off())
    for i, s in enumerate(data.samples):
        item = ds[i]
        assert item["input"].shape == (3, 256, 256) and item["hm"].shape == (3, 64, 64)
        boxes, labels = _decode_to_image(item, np.array([150.0, 100.0], np.float32), 300.0)
        order, want = np.lexsort(boxes.T[::-1]), np.lexsort(s.boxes.T[::-1])
        np.testing.assert_allclose(boxes[order], s.boxes[want], atol=1e-3)
        assert labels[order].tolist() == s.labels[want].tolist()


def test_augmentation_is_a_function_of_seed_epoch_and_index():
    data = make_synthetic(4)
    ds = CenterNetDataset(data, (128, 128), SPEC, AugmentConfig(), seed=1)
    a, b = ds[2], ds[2]
    assert all(torch.equal(a[k], b[k]) for k in a)
    later = ds[2 + 3 * len(data)]  # the same image in epoch 3
    assert not torch.equal(a["input"], later["input"])
    assert torch.isfinite(later["input"]).all() and later["hm"].max() <= 1.0


def test_flip_mirrors_joints_and_swaps_left_and_right():
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 5] = (10, 20, 2)  # left shoulder
    kps[0, 6] = (30, 20, 2)  # right shoulder
    out = flip_keypoints(kps, 100, COCO_FLIP_PAIRS)
    assert out[0, 5].tolist() == [100 - 30 - 1, 20, 2]  # the old right shoulder, mirrored, is now the left
    assert out[0, 6].tolist() == [100 - 10 - 1, 20, 2]


def test_color_augment_stays_close_and_crop_border_fits_small_images():
    rng = np.random.default_rng(0)
    img = np.full((8, 8, 3), 0.5, np.float32)
    color_augment(rng, img)
    assert np.isfinite(img).all() and np.abs(img - 0.5).max() < 0.5
    assert crop_border(128, 1000) == 128 and crop_border(128, 200) == 64 and crop_border(128, 100) == 32


def test_multi_pose_items_flip_with_the_image():
    data = load_coco(need(DATA / "coco_mini"), "multi_pose")
    data.samples = [s for s in data.samples if len(s) and s.keypoints[..., 2].sum() > 10][:2]
    ds = CenterNetDataset(data, (256, 256), SPEC, AugmentConfig(random_crop=False, flip=1.0, color=False))
    item = ds[0]
    assert item["hm_hp"].shape == (17, 64, 64) and item["hps"].shape == (128, 34)
    assert item["hp_mask"].sum() > 0 and item["reg_mask"].sum() >= 1


def test_sampler_shards_ranks_evenly_and_skips_batches_on_resume():
    full = list(EpochSampler(10, 2, seed=0))
    assert len(full) == 10 and sorted(i % 10 for i in full) == list(range(10))
    r0, r1 = EpochSampler(10, 2, seed=0, rank=0, world=2), EpochSampler(10, 2, seed=0, rank=1, world=2)
    assert len(list(r0)) == len(list(r1)) == 4  # 5 each, 2 full batches
    assert not set(r0) & set(r1)
    s = EpochSampler(10, 2, seed=0)
    s.set_epoch(3, start_batch=2)
    rest = list(s)
    s.set_epoch(3)
    assert rest == list(s)[4:] and all(i // 10 == 3 for i in rest)


def test_loader_with_workers_gives_the_same_batches_as_without():
    data = make_synthetic(4)
    ds = CenterNetDataset(data, (128, 128), SPEC, AugmentConfig())
    got = []
    for workers in (0, 2):
        sampler = EpochSampler(len(ds), 2, seed=0)
        sampler.set_epoch(1)
        got.append([b["input"] for b in make_loader(ds, sampler, workers)])
    assert all(torch.equal(a, b) for a, b in zip(*got))


def test_kitti_items_carry_ddd_targets_and_dont_care_regions():
    from centernet.data.kitti import load_kitti
    from centernet.geometry.transforms import KITTI_MEAN, KITTI_STD
    data = load_kitti(need(DATA / "kitti"))
    spec = PreprocessSpec(input_size=(96, 320), mean=KITTI_MEAN, std=KITTI_STD)
    ds = CenterNetDataset(data, (96, 320), spec, AugmentConfig.off(), max_objects=50)
    item = ds[1]  # 2 objects, 4 DontCare regions, a Truck and a Misc
    assert item["hm"].shape == (3, 24, 80) and item["rotbin"].shape == (50, 2)
    assert int(item["reg_mask"].sum()) == int(item["rot_mask"].sum()) == len(data.samples[1])
    assert item["dep"][:2, 0].tolist() == pytest.approx(data.samples[1].depth.tolist())
    assert ((item["hm"] > 0.999) & (item["hm"] < 1)).any()  # the don't-care centres

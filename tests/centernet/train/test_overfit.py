"""The overfit check: res_18 from scratch reaches COCO AP >= 0.5 on the images it trained on.

In a file of its own so that pytest-xdist (`--dist loadfile`) runs it beside the other tests.
"""
import pytest

from centernet.data.augment import AugmentConfig
from centernet.data.synthetic import make_synthetic
from centernet.inference.detector import Detector
from centernet.evaluation.metrics import coco_box_ap, detections_to_rows
from centernet.train import TrainConfig, train


@pytest.mark.slow
def test_res18_from_scratch_overfits_four_synthetic_images_to_coco_ap_above_half(tmp_path):
    """4 images (160x160, 6 shapes of 30-80 px), batch 4, Adam 2e-3, 100 steps, no augmentation, no --init.

    Measured: AP 0.892, AP50 1.0 at step 100 with one thread; 0.84 s per step against 1.66 s at 256x256 (the
    size this test used before, AP 0.715 there), so the same check in half the time: the images and shapes
    are the 256 ones scaled by 5/8, the network, steps and schedule unchanged.
    BatchNorm statistics are recomputed on the 4 images before saving (precise BN): after 100 fast
    steps the running averages still describe much older weights (at 256: AP 0.05 instead of 0.41 at step 60).
    """
    data = make_synthetic(4, size=(160, 160), max_objects=3, min_size=30, max_size=80)
    config = TrainConfig(task="ctdet", arch="res_18", data=data, out=tmp_path / "overfit", epochs=100, batch=4,
                         lr=2e-3, lr_steps=(), input_size=(160, 160), workers=0, augment=AugmentConfig.off(),
                         precise_bn=1, save_every=100, device="cpu")
    result = train(config)
    assert result.global_step == 100
    detector = Detector.from_checkpoint(result.last_checkpoint, device="cpu")  # what was saved, strictly loaded
    rows = []
    for s in data.samples:
        rows += detections_to_rows(detector(s.image), s.image_id, list(data.category_ids))
    metrics = coco_box_ap(data.coco_gt, rows)  # pycocotools
    assert metrics["AP"] >= 0.5, metrics
    assert metrics["AP50"] >= 0.7, metrics  # measured 1.0 (0.85 at 256)

"""centernet/train: checkpoints that Detector loads, exact resume, --init, logs, and the overfit check."""
import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from centernet.models.checkpoint import read_checkpoint
from centernet.data.augment import AugmentConfig
from centernet.data.synthetic import make_synthetic
from centernet.inference.detector import Detector
from centernet.errors import CheckpointError, ConfigError
from centernet.train import TrainConfig, train
from centernet.train.trainer import export_original



def small_config(out: Path, **kw) -> TrainConfig:
    """res_18 at 64x64 on 4 synthetic images, 2 steps per epoch; lr drops x0.1 after epoch 1."""
    base = TrainConfig(task="ctdet", arch="res_18", data="synthetic:4", out=out, epochs=3, batch=2, lr=1e-3,
                       lr_steps=(1,), input_size=(64, 64), workers=0, augment=AugmentConfig(), device="cpu")
    return replace(base, **kw)


def steps_csv(out: Path) -> list[dict]:
    with open(out / "steps.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_schedule_is_the_originals_scaled_to_batch_and_epochs():
    c = TrainConfig(epochs=140, batch=128)
    assert c.base_lr() == pytest.approx(5e-4)  # the zoo's dla_34: batch 128, lr 5e-4
    assert c.drop_epochs() == (90, 120)
    assert c.lr_at(90) == pytest.approx(5e-4) and c.lr_at(91) == pytest.approx(5e-5)
    assert c.lr_at(121) == pytest.approx(5e-6)
    assert TrainConfig(epochs=70).drop_epochs() == (45, 60) and TrainConfig().base_lr() == pytest.approx(1.25e-4)
    assert TrainConfig(task="ddd").input_hw() == (384, 1280)


def test_checkpoint_loads_in_detector_and_resume_continues_at_the_same_step_and_lr(tmp_path):
    say = []
    first = train(small_config(tmp_path / "run", max_steps=3), say=say.append)
    assert first.global_step == 3 and any("stopped at step 3" in s for s in say)
    ckpt = tmp_path / "run" / "last.pth"
    # the training checkpoint is a normal checkpoint of ours: Detector loads it strictly
    det = Detector.from_checkpoint(ckpt, device="cpu")
    assert det.class_names == ("rectangle", "ellipse", "triangle") and det.spec.input_size == (64, 64)
    dets = det(make_synthetic(1).samples[0].image)
    assert len(dets) > 0 and dets.boxes.shape[1] == 4
    info, _ = read_checkpoint(ckpt)
    assert info.format == "ours" and info.meta["step"] == 3

    resumed = train(small_config(tmp_path / "run", max_steps=5, resume=True), say=say.append)
    assert resumed.global_step == 5 and any("resumed" in s and "epoch 2, batch 1, step 3" in s for s in say)
    rows = steps_csv(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-3 * 0.1])

    straight = train(small_config(tmp_path / "straight", max_steps=5))
    a, b = resumed.model.state_dict(), straight.model.state_dict()
    for k in a:  # same data order, same augmentation, same optimizer state: the same weights
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert [e["epoch"] for e in log] == [1, 2] and {"hm_loss", "wh_loss", "off_loss"} <= set(log[0])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert (tmp_path / "run" / "model_1.pth").exists()  # a copy at each lr drop, as the original


def test_resume_refuses_a_missing_checkpoint_or_another_arch(tmp_path):
    with pytest.raises(CheckpointError, match="no .*last.pth"):
        train(small_config(tmp_path / "none", resume=True, max_steps=1))
    train(small_config(tmp_path / "r", max_steps=1))
    with pytest.raises(ConfigError, match="not ctdet resdcn_18"):
        train(small_config(tmp_path / "r", arch="resdcn_18", resume=True, max_steps=2))


def test_init_loads_what_fits_and_reinitialises_heads_of_another_class_count(seeded_checkpoint, tmp_path):
    say = []
    result = train(small_config(tmp_path / "i", init=str(seeded_checkpoint("ctdet", "res_18")), max_steps=1, lr=1e-12),
                   say=say.append)
    line = next(s for s in say if s.startswith("init from"))
    assert "re-initialised 2 of another shape (hm.2.weight, hm.2.bias)" in line
    orig = torch.load(seeded_checkpoint("ctdet", "res_18"), weights_only=True)["state_dict"]
    got = result.model.state_dict()
    torch.testing.assert_close(got["layer1.0.conv1.weight"], orig["layer1.0.conv1.weight"], atol=1e-6, rtol=0)
    assert got["hm.2.weight"].shape[0] == 3


def test_init_from_another_arch_is_an_error(seeded_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="nothing in .* fits"):
        train(small_config(tmp_path / "x", arch="dla_34", init=str(seeded_checkpoint("ctdet", "res_18")), max_steps=1))


def test_export_to_the_original_layout_loads_as_an_original_checkpoint(tmp_path):
    train(small_config(tmp_path / "e", max_steps=2, epochs=1, export_original=True))
    assert (tmp_path / "e" / "last_original.pth").exists()
    dst = export_original(tmp_path / "e" / "last.pth", tmp_path / "orig.pth")
    obj = torch.load(dst, weights_only=True)
    assert set(obj) == {"epoch", "state_dict"}
    info, _ = read_checkpoint(dst)
    assert info.format == "original" and info.arch == "res_18" and info.heads == {"hm": 3, "wh": 2, "reg": 2}


def test_ema_and_gradient_clipping_run_and_save_the_averaged_weights(tmp_path):
    result = train(small_config(tmp_path / "m", max_steps=2, epochs=1, ema=True, clip_grad=1.0))
    saved = torch.load(tmp_path / "m" / "last.pth", weights_only=True)
    assert saved["train_state"]["ema"]["updates"] == 2
    torch.testing.assert_close(saved["state_dict"]["hm.2.bias"], result.model.state_dict()["hm.2.bias"])
    assert not torch.equal(saved["state_dict"]["hm.0.weight"], saved["train_state"]["model"]["hm.0.weight"])


def test_amp_on_cpu_trains_with_finite_losses(tmp_path):
    result = train(small_config(tmp_path / "amp", max_steps=2, epochs=1, amp=True))
    rows = steps_csv(tmp_path / "amp")
    assert result.global_step == 2 and all(np.isfinite(float(r["loss"])) for r in rows)
    assert all(v.dtype == torch.float32 for v in result.model.state_dict().values() if v.is_floating_point())


def test_precise_bn_sets_running_stats_to_the_batches_statistics():
    from centernet.train.precise_bn import recompute_bn_stats
    bn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    x = [torch.randn(2, 3, 5, 5) * 3 + 1 for _ in range(3)]
    assert recompute_bn_stats(bn, iter(x)) == 3
    with torch.no_grad():
        feats = torch.cat([bn[0](b) for b in x])
    torch.testing.assert_close(bn[1].running_mean, feats.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert bn[1].momentum == 0.1 and bn.training


def test_amp_on_cpu_trains_deformable_archs_through_the_gathered_deform_conv(tmp_path):
    """torchvision has no bfloat16 CPU kernel: under autocast the DCNs take the gathered path."""
    result = train(small_config(tmp_path / "dcn", arch="resdcn_18", amp=True, max_steps=2, epochs=1))
    rows = steps_csv(tmp_path / "dcn")
    assert result.global_step == 2 and all(np.isfinite(float(r["loss"])) for r in rows)
    offsets = [m.conv_offset_mask.weight for m in result.model.modules() if type(m).__name__ == "DCN"]
    assert offsets and any(w.abs().sum() > 0 for w in offsets)  # zero-initialised, moved by the gradients

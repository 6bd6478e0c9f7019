"""Batch-norm folding: every BN after a conv, a transposed conv or a DCN folds away, outputs unchanged."""
import pytest
import torch
from torch import nn

from centernet.inference.bn_folding import fold_batch_norm
from centernet.models.build import build_model


def randomise_batch_norms(model: nn.Module, seed: int) -> None:
    """Non-trivial statistics and affine terms, so a wrong fold shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


@pytest.mark.parametrize("arch, size", [("res_18", 64), ("resdcn_18", 64), ("dla_34", 64), ("hourglass", 128)])
def test_every_batch_norm_folds_and_the_outputs_stay(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, "ctdet").eval()
    randomise_batch_norms(model, 1)
    for m in model.modules():  # real offsets, so the folded DCN weights are exercised off-grid
        if type(m).__name__ == "DCN":
            nn.init.normal_(m.conv_offset_mask.weight, std=0.05)
    folded = fold_batch_norm(model)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        ref, got = model(x), folded(x)
    for name in ref:
        scale = ref[name].abs().max().item()
        torch.testing.assert_close(got[name], ref[name], rtol=0, atol=1e-4 * max(1.0, scale))


def test_folded_model_still_names_a_wrong_input_size():
    folded = fold_batch_norm(build_model("dla_34", "ctdet").eval())
    with pytest.raises(ValueError, match="multiples of 32, got 40x64"):
        folded(torch.randn(1, 3, 40, 64))


def test_a_shared_layer_is_left_alone():
    """A conv called twice cannot absorb the BN after one of its calls."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x)) + self.conv(x)

    model = Shared().eval()
    randomise_batch_norms(model, 2)
    folded = fold_batch_norm(model)
    assert any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x))


def test_untraceable_models_come_back_unfolded_but_working():
    from centernet.models.zoo import default_weights
    from centernet.models.checkpoint import load_checkpoint
    model, _ = load_checkpoint(default_weights("ctdet"))
    folded = fold_batch_norm(model)
    assert folded is not model
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(folded(x)["hm"], model(x)["hm"])

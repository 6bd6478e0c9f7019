"""Precise BatchNorm statistics (as detectron2's PreciseBN hook): recompute the running mean and variance
over training batches with the weights fixed.

During training BN normalises with batch statistics while its running statistics trail the weights
by an exponential average (momentum 0.1); after a short or fast-moving run they describe weights
from many steps ago, and inference in eval mode suffers. Averaging exact statistics over a few
batches fixes that without touching a weight.
"""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, batches, forward=None) -> int:
    """Set every BatchNorm's running stats to the average over `batches` (input tensors); returns #batches."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    saved = [(m.momentum, m.training) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches seen
    model.train()
    count = 0
    for x in batches:
        (forward or model)(x)
        count += 1
    for m, (momentum, training) in zip(norms, saved):
        m.momentum = momentum
        m.train(training)
    model.train(was_training)
    return count

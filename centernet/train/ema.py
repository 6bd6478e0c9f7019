"""Exponential moving average of a model's weights (evaluated and saved instead of the raw weights)."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn


class ModelEMA:
    """ema = d * ema + (1 - d) * weights after every step, d ramping up to `decay` over ~2000 steps."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, ramp: float = 2000.0, updates: int = 0):
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.ramp, self.updates = decay, ramp, updates

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.ramp))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        source = model.state_dict()
        for name, value in self.model.state_dict().items():
            new = source[name].detach()
            if value.dtype.is_floating_point:
                value.mul_(d).add_(new.to(value.dtype), alpha=1 - d)
            else:
                value.copy_(new)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])

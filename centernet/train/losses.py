"""CenterNet's training losses: focal loss on heatmaps, L1 on regressed fields, bin loss on orientation.

All computed in float32 whatever the autocast dtype. Weights default to the original's
(hm 1, wh 0.1, off 1, hp 1, hm_hp 1, dep 1, dim 1, rot 1). Multi-stack models (hourglass) are
supervised at every stack and the losses averaged over stacks.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import torch
import torch.nn.functional as F
from torch import Tensor

PROB_CLAMP = 1e-4  # sigmoid outputs are clamped to [1e-4, 1 - 1e-4] before the logs


def clamped_sigmoid(logits: Tensor) -> Tensor:
    return torch.clamp(torch.sigmoid(logits.float()), min=PROB_CLAMP, max=1 - PROB_CLAMP)


def focal_loss(pred: Tensor, gt: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """Penalty-reduced pixel-wise focal loss (CornerNet), normalised by the number of objects.

    pred: probabilities (B, C, H, W); gt: Gaussian-splatted targets, exactly 1 at object centres.
    loss = -1/N * sum( (1-p)^a log p  at gt == 1 ;  (1-gt)^b p^a log(1-p)  elsewhere ).
    With no object in the batch the negative term alone is returned.
    """
    pred, gt = pred.float(), gt.float()
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    pos_loss = (torch.log(pred) * torch.pow(1 - pred, alpha) * pos).sum()
    neg_loss = (torch.log(1 - pred) * torch.pow(pred, alpha) * torch.pow(1 - gt, beta) * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def gather_feature(feature: Tensor, ind: Tensor) -> Tensor:
    """(B, D, H, W) map at flat pixel indices (B, M) -> (B, M, D)."""
    b, d = feature.shape[:2]
    flat = feature.reshape(b, d, -1)
    return torch.gather(flat, 2, ind[:, None, :].expand(b, d, ind.shape[1])).permute(0, 2, 1)


def reg_l1_loss(output: Tensor, mask: Tensor, ind: Tensor, target: Tensor) -> Tensor:
    """L1 between the head at each object's index and its target, averaged over supervised values.

    mask (B, M) per object or (B, M, D) per value (joints); normalised by the number of masked
    values (objects x channels), as the original's RegL1Loss / RegWeightedL1Loss.
    """
    pred = gather_feature(output.float(), ind)
    mask = mask.float()
    if mask.dim() == 2:
        mask = mask.unsqueeze(2).expand_as(pred)
    loss = F.l1_loss(pred * mask, target.float() * mask, reduction="sum")
    return loss / (mask.sum() + 1e-4)


def mean_l1_loss(output: Tensor, mask: Tensor, ind: Tensor, target: Tensor) -> Tensor:
    """Masked L1 averaged over *every* slot (B x M x D), the original's ddd regression loss."""
    pred = gather_feature(output.float(), ind)
    mask = mask.float().unsqueeze(2).expand_as(pred)
    return F.l1_loss(pred * mask, target.float() * mask, reduction="mean")


def rotation_bin_loss(output: Tensor, mask: Tensor, ind: Tensor, rotbin: Tensor, rotres: Tensor) -> Tensor:
    """Two-bin orientation loss: bin classification (cross entropy) + sin/cos residuals (smooth L1).

    output channels: bin 1 (not, in, sin, cos), bin 2 (not, in, sin, cos).
    """
    pred = gather_feature(output.float(), ind).reshape(-1, 8)
    rotbin = rotbin.reshape(-1, 2)
    rotres = rotres.reshape(-1, 2).float()
    mask = mask.reshape(-1, 1).float()
    loss = F.cross_entropy(pred[:, 0:2] * mask, rotbin[:, 0]) + F.cross_entropy(pred[:, 4:6] * mask, rotbin[:, 1])
    for b in range(2):
        rows = rotbin[:, b].nonzero()[:, 0]
        if rows.numel():
            p, r = pred[rows], rotres[rows, b]
            loss = loss + F.smooth_l1_loss(p[:, 4 * b + 2], torch.sin(r))
            loss = loss + F.smooth_l1_loss(p[:, 4 * b + 3], torch.cos(r))
    return loss


def depth_from_logits(dep: Tensor) -> Tensor:
    """The depth head's transform: 1 / sigmoid(x) - 1 (metres)."""
    return 1.0 / (torch.sigmoid(dep.float()) + 1e-6) - 1.0


@dataclass(frozen=True)
class LossWeights:
    """Per-head loss weights, the original's defaults."""

    hm: float = 1.0
    wh: float = 0.1
    off: float = 1.0
    hp: float = 1.0
    hm_hp: float = 1.0
    hp_offset: float = 1.0
    dep: float = 1.0
    dim: float = 1.0
    rot: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


# loss name in the log -> the weight that scales it
LOSS_NAMES = {
    "ctdet": ("hm_loss", "wh_loss", "off_loss"),
    "multi_pose": ("hm_loss", "hp_loss", "hm_hp_loss", "hp_offset_loss", "wh_loss", "off_loss"),
    "ddd": ("hm_loss", "dep_loss", "dim_loss", "rot_loss", "wh_loss", "off_loss"),
}


def used_heads(task: str, weights: LossWeights) -> set[str]:
    """Heads that receive a gradient under these weights (DDP must know about unused ones)."""
    w = weights
    table = {"hm": w.hm, "wh": w.wh, "reg": w.off, "hps": w.hp, "hm_hp": w.hm_hp, "hp_offset": w.hp_offset,
             "dep": w.dep, "dim": w.dim, "rot": w.rot}
    heads = {"ctdet": ("hm", "wh", "reg"), "multi_pose": ("hm", "wh", "reg", "hps", "hm_hp", "hp_offset"),
             "ddd": ("hm", "wh", "reg", "dep", "dim", "rot")}[task]
    return {h for h in heads if table[h] > 0}


class CenterNetLoss(torch.nn.Module):
    """Total loss and per-head parts for a task: `loss, parts = crit(stack_outputs, batch)`.

    stack_outputs is a list of head dicts (raw logits), one per stack; batch holds the targets.
    """

    def __init__(self, task: str, weights: LossWeights = LossWeights()):
        super().__init__()
        if task not in LOSS_NAMES:
            raise ValueError(f"no loss for task {task!r}")
        self.task = task
        self.weights = weights

    def forward(self, stack_outputs: list[dict], batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        parts = {name: torch.zeros((), device=batch["hm"].device) for name in LOSS_NAMES[self.task]}
        n = len(stack_outputs)
        for out in stack_outputs:
            for name, value in getattr(self, f"_{self.task}")(out, batch).items():
                parts[name] = parts[name] + value / n
        w = self.weights
        scale = {"hm_loss": w.hm, "wh_loss": w.wh, "off_loss": w.off, "hp_loss": w.hp, "hm_hp_loss": w.hm_hp,
                 "hp_offset_loss": w.hp_offset, "dep_loss": w.dep, "dim_loss": w.dim, "rot_loss": w.rot}
        total = sum(scale[name] * value for name, value in parts.items())
        return total, {"loss": total, **parts}

    def _ctdet(self, out: dict, b: dict) -> dict[str, Tensor]:
        parts = {"hm_loss": focal_loss(clamped_sigmoid(out["hm"]), b["hm"])}
        if self.weights.wh > 0:
            parts["wh_loss"] = reg_l1_loss(out["wh"], b["reg_mask"], b["ind"], b["wh"])
        if self.weights.off > 0 and "reg" in out:
            parts["off_loss"] = reg_l1_loss(out["reg"], b["reg_mask"], b["ind"], b["reg"])
        return parts

    def _multi_pose(self, out: dict, b: dict) -> dict[str, Tensor]:
        parts = self._ctdet(out, b)
        if self.weights.hp > 0:
            parts["hp_loss"] = reg_l1_loss(out["hps"], b["hps_mask"], b["ind"], b["hps"])
        if self.weights.hm_hp > 0 and "hm_hp" in out:
            parts["hm_hp_loss"] = focal_loss(clamped_sigmoid(out["hm_hp"]), b["hm_hp"])
        if self.weights.hp_offset > 0 and "hp_offset" in out:
            parts["hp_offset_loss"] = reg_l1_loss(out["hp_offset"], b["hp_mask"], b["hp_ind"], b["hp_offset"])
        return parts

    def _ddd(self, out: dict, b: dict) -> dict[str, Tensor]:
        w = self.weights
        parts = {"hm_loss": focal_loss(clamped_sigmoid(out["hm"]), b["hm"])}
        if w.dep > 0:
            parts["dep_loss"] = mean_l1_loss(depth_from_logits(out["dep"]), b["reg_mask"], b["ind"], b["dep"])
        if w.dim > 0:
            parts["dim_loss"] = mean_l1_loss(out["dim"], b["reg_mask"], b["ind"], b["dim"])
        if w.rot > 0:
            parts["rot_loss"] = rotation_bin_loss(out["rot"], b["rot_mask"], b["ind"], b["rotbin"], b["rotres"])
        if w.wh > 0 and "wh" in out:
            parts["wh_loss"] = mean_l1_loss(out["wh"], b["rot_mask"], b["ind"], b["wh"])
        if w.off > 0 and "reg" in out:
            parts["off_loss"] = mean_l1_loss(out["reg"], b["rot_mask"], b["ind"], b["reg"])
        return parts

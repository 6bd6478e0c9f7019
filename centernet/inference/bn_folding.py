"""Batch norm folded into the layer before it, for inference: one pass less over every feature map.

torch.fx's stock `fuse` only folds Conv2d + BatchNorm2d and gives up on the whole model as soon as
anything in it branches on a tensor (our DCN picks its kernel by dtype). Here DCN is a leaf of the
trace, and a BN that follows a Conv2d, a ConvTranspose2d or a DCN is folded into its weights:
y = gamma * (Wx + b - mean) / sqrt(var + eps) + beta  ->  W' = s W, b' = s (b - mean) + beta.
Models that cannot be traced (TF-style 'SAME' padding reads input shapes) are returned unfolded.
"""
from __future__ import annotations

import copy
import logging

import torch
from torch import fx, nn

from centernet.models.backbones.dcn import DCN

log = logging.getLogger(__name__)


class _LeafDCNTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, DCN) or super().is_leaf_module(m, qualname)


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@torch.no_grad()
def _fold_into(layer: nn.Module, bn: nn.BatchNorm2d) -> bool:
    """Fold `bn` into `layer` in place; False when the layer is not a kind this can fold."""
    if not isinstance(bn, nn.BatchNorm2d) or not bn.track_running_stats or bn.running_var is None:
        return False
    if isinstance(layer, (nn.Conv2d, DCN)):
        out_dim = 0
    elif isinstance(layer, nn.ConvTranspose2d) and layer.groups == 1:
        out_dim = 1  # weight is (in, out, kh, kw)
    else:
        return False
    scale, shift = _bn_scale_shift(bn)
    shape = [1] * layer.weight.dim()
    shape[out_dim] = -1
    layer.weight.mul_(scale.view(shape))
    bias = layer.bias if layer.bias is not None else torch.zeros_like(scale)
    new_bias = bias * scale + shift
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias)
    else:
        layer.bias.copy_(new_bias)
    return True


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """An eval copy of `model` with every foldable BN folded away (a plain copy when untraceable)."""
    model = copy.deepcopy(model).eval()
    try:
        gm = fx.GraphModule(model, _LeafDCNTracer().trace(model))
    except Exception as e:  # data-dependent control flow: keep the layers as they are
        log.info("batch-norm folding skipped: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
        return model
    modules = dict(gm.named_modules())
    calls = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        prev = node.args[0]
        # only a layer called once whose output feeds nothing but this BN can absorb it
        if not (isinstance(prev, fx.Node) and prev.op == "call_module" and len(prev.users) == 1
                and calls[prev.target] == 1 and calls[node.target] == 1):
            continue
        if _fold_into(modules[prev.target], modules[node.target]):
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
            folded += 1
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    log.debug("folded %d batch norms", folded)
    return gm

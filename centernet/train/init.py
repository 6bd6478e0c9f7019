"""`--init`: start from any checkpoint (ours, the original's, a shipped default model), loading what fits.

Tensors are matched by name (after stripping `module.` / `_orig_mod.`) and shape; everything else
keeps its fresh initialisation — e.g. the heatmap head's last layer when the class count differs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from centernet.models.checkpoint import clean_state_dict, read_file
from centernet.errors import CheckpointError


@dataclass
class InitReport:
    loaded: list = field(default_factory=list)
    wrong_shape: list = field(default_factory=list)
    missing: list = field(default_factory=list)      # in the model, not in the file
    unexpected: list = field(default_factory=list)   # in the file, not in the model

    def summary(self) -> str:
        parts = [f"loaded {len(self.loaded)} of {len(self.loaded) + len(self.wrong_shape) + len(self.missing)} tensors"]
        if self.wrong_shape:
            parts.append(f"re-initialised {len(self.wrong_shape)} of another shape ({', '.join(self.wrong_shape[:4])}"
                         f"{' ...' if len(self.wrong_shape) > 4 else ''})")
        if self.missing:
            parts.append(f"{len(self.missing)} not in the file ({', '.join(self.missing[:4])}"
                         f"{' ...' if len(self.missing) > 4 else ''})")
        if self.unexpected:
            parts.append(f"ignored {len(self.unexpected)} the model lacks")
        return "; ".join(parts)


def init_from_checkpoint(model: nn.Module, path) -> InitReport:
    """Copy the file's tensors that fit `model` by name and shape; raise if nothing fits."""
    state = clean_state_dict(read_file(path)["state_dict"])
    own = model.state_dict()
    report = InitReport()
    take = {}
    for name, value in own.items():
        if name not in state:
            report.missing.append(name)
        elif tuple(state[name].shape) != tuple(value.shape):
            report.wrong_shape.append(name)
        else:
            take[name] = state[name].to(value.dtype)
            report.loaded.append(name)
    report.unexpected = [k for k in state if k not in own]
    weights = [k for k in report.loaded if k.endswith("weight")]
    if not weights:
        raise CheckpointError(f"nothing in {path} fits this model (no tensor with a matching name and shape): "
                              f"it is for another arch; pick a checkpoint of the same --arch")
    model.load_state_dict(take, strict=False)
    return report

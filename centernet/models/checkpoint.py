"""Safe, strict checkpoint loading: original model-zoo files and our own format.

Original files are `{'epoch': N, 'state_dict': ...}` (keys maybe prefixed `module.`); arch, task and
heads are recognised from the keys. Ours add arch, task, classes, pre-processing and decoding rules so
a file is all `Detector.from_checkpoint` needs. Files are always read with `weights_only=True`:
a pickle that would run code is refused, never executed.
"""
from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from centernet.classes import default_classes
from centernet.errors import CheckpointError, ConfigError
from centernet.models.heads import TASKS
from centernet.models.build import build_model, default_head_conv
from centernet.geometry.transforms import KITTI_MEAN, KITTI_STD, PreprocessSpec
from centernet.io.writers.atomic import atomic_path

FORMAT = "centernet-live"
FORMAT_VERSION = 1
HEAD_NAMES = ("hm", "wh", "reg", "hps", "hm_hp", "hp_offset", "dep", "rot", "dim")
DEFAULT_MODEL_ARCHS = ("mobilenetv3", "movenet")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass
class CheckpointInfo:
    """Everything a checkpoint says about its model."""

    arch: str
    task: str
    heads: dict
    head_conv: int
    class_names: tuple
    preprocess: PreprocessSpec
    decode: dict = field(default_factory=dict)
    format: str = "original"  # "original", "ours" or "default model"
    meta: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def classes_text(self) -> str:
        """"1 class", "80 classes"."""
        return f"{self.num_classes} class{'' if self.num_classes == 1 else 'es'}"

    def describe(self) -> str:
        return f"{self.task} {self.arch} ({self.classes_text})"


def read_file(path) -> dict:
    """torch.load with weights_only=True, every failure turned into one clear CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path} (check the path, or run `main.py weights list`)")
    if path.is_dir():
        raise CheckpointError(f"checkpoint path is a folder: {path} (give the .pth file inside it)")
    try:
        with warnings.catch_warnings():   # torch's protocol warning would print before our one line
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        culprit = re.search(r"(?:Unsupported global: |unsupported )GLOBAL (\S+)", str(e))
        if culprit:   # a real pickle naming a class or function; random bytes fail with "Unsupported operand"
            raise CheckpointError(
                f"refused to load {path}: it contains Python objects ({culprit.group(1)}) that could run code "
                f"when unpickled; only plain tensor checkpoints are loaded — re-save it as a state dict "
                f"from trusted code") from None
        raise _not_a_checkpoint(path, e) from None
    except PermissionError:   # an OSError too, but nothing to do with the file's content
        raise CheckpointError(f"cannot read {path}: permission denied; make it readable (chmod +r) or copy it "
                              f"somewhere you can read") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError,
            TypeError, AttributeError) as e:
        raise _not_a_checkpoint(path, e) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"state_dict": obj}  # a bare state dict
    raise CheckpointError(f"{path} holds no state dict (expected a dict with 'state_dict' or a dict of tensors)")


def _not_a_checkpoint(path, error: Exception) -> CheckpointError:
    detail = short_reason(error)
    return CheckpointError(f"cannot read {path}: the file is truncated or not a PyTorch checkpoint ({detail}); "
                           f"download it again or check the path")


def short_reason(error: Exception, limit: int = 100) -> str:
    """The telling part of a torch/pickle error: the unpickler's own complaint when there is one, else the
    first sentence; never cut mid-word."""
    text = str(error)
    inner = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    line = (inner.group(1) if inner else text).strip().splitlines()[0] if text.strip() else type(error).__name__
    sentence = re.split(r"(?<=[.:;])\s", line, maxsplit=1)[0].rstrip(".:; ")
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + " ..."
    return sentence or type(error).__name__


def clean_state_dict(state_dict: dict) -> dict:
    """Strip DataParallel / torch.compile wrapper prefixes from every key."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _resnet_depth(keys: set) -> int:
    blocks = [len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
    bottleneck = any(".conv3." in k for k in keys if k.startswith("layer1."))
    table = {(2, 2, 2, 2, False): 18, (3, 4, 6, 3, False): 34, (3, 4, 6, 3, True): 50,
             (3, 4, 23, 3, True): 101, (3, 8, 36, 3, True): 152}
    depth = table.get((*blocks, bottleneck))
    if depth is None:
        raise CheckpointError(f"unrecognised ResNet layout (blocks per stage {blocks}, bottleneck {bottleneck})")
    return depth


def guess_arch(keys) -> str:
    """The zoo arch whose layout these keys follow (heuristic; strict loading confirms it)."""
    keys = set(keys)
    if any(k.startswith("base.base_layer.") for k in keys):
        return "dla_34"
    if any(k.startswith("kps.") for k in keys) and any(k.startswith("pre.") for k in keys):
        return "hourglass"
    if "conv1.weight" in keys and any(k.startswith("layer1.") for k in keys):
        family = "resdcn" if any("conv_offset_mask" in k for k in keys if k.startswith("deconv_layers")) else "res"
        return f"{family}_{_resnet_depth(keys)}"
    raise CheckpointError("the file's keys match no known arch (res_*, resdcn_*, dla_34, hourglass); "
                          "pass --arch if it is one of them")


def _head_out_channels(state_dict: dict, name: str) -> int | None:
    finals = [k for k in state_dict if k.startswith(name + ".") and k.endswith(".weight")
              and state_dict[k].dim() == 4]
    if not finals:
        return None
    natural = lambda s: [int(p) if p.isdigit() else p for p in s.split(".")]  # noqa: E731
    return int(state_dict[sorted(finals, key=natural)[-1]].shape[0])


def guess_heads(state_dict: dict) -> dict:
    heads = {}
    for name in HEAD_NAMES:
        ch = _head_out_channels(state_dict, name)
        if ch is not None:
            heads[name] = ch
    return heads


def task_of_heads(heads: dict) -> str:
    if "hps" in heads:
        return "multi_pose"
    if "dep" in heads or "rot" in heads:
        return "ddd"
    return "ctdet"


def original_preprocess(task: str, arch: str) -> PreprocessSpec:
    pad = 127 if arch == "hourglass" else 31
    if task == "ddd":
        return PreprocessSpec(input_size=(384, 1280), pad=pad, mean=KITTI_MEAN, std=KITTI_STD)
    return PreprocessSpec(pad=pad)


def info_for_original(state_dict: dict, arch: str | None = None, task: str | None = None) -> CheckpointInfo:
    arch = arch or guess_arch(state_dict.keys())
    heads = guess_heads(state_dict)
    if "hm" not in heads:
        raise CheckpointError("the file has no 'hm' heatmap head: it is not a CenterNet checkpoint")
    found_task = task_of_heads(heads)
    task = task or found_task
    head_conv = default_head_conv(arch)
    if arch != "hourglass" and "hm.0.weight" in state_dict:
        head_conv = int(state_dict["hm.0.weight"].shape[0])
    return CheckpointInfo(arch, task, heads, head_conv, default_classes(task, heads["hm"]),
                          original_preprocess(task, arch), {"rule": "centernet", "box_mode": "size", "k": 100})


def info_for_ours(obj: dict) -> CheckpointInfo:
    try:
        arch, task = obj["arch"], obj["task"]
        fmt = "default model" if arch in DEFAULT_MODEL_ARCHS else "ours"
        return CheckpointInfo(arch, task, dict(obj["heads"]), int(obj.get("head_conv", default_head_conv(arch))),
                              tuple(obj["class_names"]), PreprocessSpec.from_dict(obj["preprocess"]),
                              dict(obj.get("decode", {})), fmt, dict(obj.get("meta", {})))
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint in our format is missing field {e}; re-save it with this version") from None


def describe_mismatch(model: nn.Module, state_dict: dict, max_list: int = 6) -> tuple[list, list, list]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(expected[k].shape)}" for k in expected
             if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    return missing, unexpected, wrong


def _fmt_keys(label: str, items: list, max_list: int = 5) -> str:
    if not items:
        return ""
    more = f" (+{len(items) - max_list} more)" if len(items) > max_list else ""
    return f"{label} {len(items)}: {', '.join(items[:max_list])}{more}"


def strict_load(model: nn.Module, state_dict: dict, wanted: str, looks_like: str) -> None:
    """load_state_dict(strict=True) with a single, readable error on any mismatch."""
    missing, unexpected, wrong = describe_mismatch(model, state_dict)
    if missing or unexpected or wrong:
        parts = [p for p in (_fmt_keys("missing", missing), _fmt_keys("unexpected", unexpected),
                             _fmt_keys("wrong shape", wrong)) if p]
        raise CheckpointError(f"checkpoint does not fit {wanted}: {'; '.join(parts)}. "
                              f"The file looks like {looks_like}: drop --arch/--task or pass those")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}, strict=True)


def read_checkpoint(path, arch: str | None = None, task: str | None = None) -> tuple[CheckpointInfo, dict]:
    """The checkpoint's info and its cleaned state dict, without building a model."""
    obj = read_file(path)
    state_dict = clean_state_dict(obj["state_dict"])
    if obj.get("format") == FORMAT:
        info = info_for_ours(obj)
        if task and task != info.task:
            raise CheckpointError(f"{path} is a {info.describe()} checkpoint, not {task}: drop --task "
                                  f"or use a {task} checkpoint")
        if arch and arch != info.arch:
            raise CheckpointError(f"{path} is a {info.describe()} checkpoint, not arch {arch}: drop --arch")
    else:
        if task is not None and task not in TASKS:
            raise ConfigError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
        info = info_for_original(state_dict, arch, task)
    return info, state_dict


def load_checkpoint(path, arch: str | None = None, task: str | None = None) -> tuple[nn.Module, CheckpointInfo]:
    """Build the model a checkpoint describes and load it strictly; returns (model in eval mode, info)."""
    info, state_dict = read_checkpoint(path, arch, task)
    try:
        looks = info_for_original(state_dict).describe() if info.format == "original" else info.describe()
    except CheckpointError:
        looks = "no known arch"
    if info.format == "original" and task and task != task_of_heads(guess_heads(state_dict)):
        raise CheckpointError(f"{path} has the heads of a {looks} checkpoint, not {task}: "
                              f"drop --task or use a {task} checkpoint")
    model = build_model(info.arch, info.task, heads=info.heads, head_conv=info.head_conv)
    strict_load(model, state_dict, f"{info.task} {info.arch}", looks)
    return model.eval(), info


def checkpoint_dict(model: nn.Module, info: CheckpointInfo, half: bool = False, extra_meta: dict | None = None) -> dict:
    """Our file format for a model and its info (plain types and tensors only)."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
          for k, v in model.state_dict().items()}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "arch": info.arch, "task": info.task,
            "heads": dict(info.heads), "head_conv": info.head_conv, "class_names": list(info.class_names),
            "down_ratio": 4, "preprocess": info.preprocess.to_dict(), "decode": dict(info.decode),
            "meta": {**info.meta, **(extra_meta or {})}, "state_dict": sd}


def atomic_save(obj, path) -> None:
    """torch.save to a temp file in the same folder, then rename: never a half-written file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(path, model: nn.Module, info: CheckpointInfo, half: bool = False) -> None:
    atomic_save(checkpoint_dict(model, info, half), path)


def to_original(state_dict: dict, epoch: int = 0) -> dict:
    """The original's file layout for a state dict."""
    return {"epoch": epoch, "state_dict": {k: v.float() if v.is_floating_point() else v
                                           for k, v in state_dict.items()}}

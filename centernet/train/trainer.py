"""The training loop: Adam at the original's schedule, AMP, clipping, EMA, checkpoints, logs, DDP.

    from centernet.train import TrainConfig, train
    result = train(TrainConfig(task="ctdet", arch="res_18", data="path/to/coco", epochs=70, batch=32))

The same call runs one process or many: under `torchrun --nproc_per_node N main.py train ...`
every process trains a shard of each batch (`batch` is the global batch) with DDP. Every epoch
writes `last.pth` in our checkpoint format (it loads in `Detector` as is) with the optimizer state,
so `resume=True` continues at the same step, learning rate and data order.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from centernet.models.checkpoint import (CheckpointInfo, atomic_save, checkpoint_dict, read_checkpoint, read_file,
                                         to_original)
from centernet.classes import COCO_FLIP_PAIRS
from centernet.data import DetectionSet, load_dataset
from centernet.data.augment import AugmentConfig
from centernet.data.dataset import CenterNetDataset
from centernet.data.loader import EpochSampler, make_loader
from centernet.data.samples import check_max_images
from centernet.errors import CenterNetError, CheckpointError, ConfigError
from centernet.evaluation.metrics import evaluate
from centernet.inference.detector import Detector
from centernet.models.heads import TASKS, task_heads
from centernet.train.losses import LOSS_NAMES, CenterNetLoss, LossWeights, used_heads
from centernet.models.build import build_model, default_head_conv
from centernet.data.targets import MAX_OBJECTS
from centernet.io.writers.atomic import ensure_writable_dir, remove_if_empty
from centernet.geometry.transforms import COCO_MEAN_BGR, COCO_STD_BGR, KITTI_MEAN, KITTI_STD, PreprocessSpec
import centernet.train.distributed as distributed
from centernet.train.ema import ModelEMA
from centernet.train.init import init_from_checkpoint
from centernet.train.log import TrainLog
from centernet.train.precise_bn import recompute_bn_stats
from centernet.progress import Progress, Task, no_progress

BASE_LR = 1.25e-4      # the original's Adam learning rate at batch 32, scaled linearly with the batch
BASE_BATCH = 32
ORIGINAL_EPOCHS, ORIGINAL_DROPS = 140, (90, 120)  # x0.1 after each drop epoch
KITTI_MAX_OBJECTS = 50  # the original's ddd slot count (its regression losses average over slots)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs. Defaults are the original's recipe.

    lr: None = 1.25e-4 x batch / 32. lr_steps: None = the original's drops (90 and 120 of 140
    epochs) scaled to `epochs`. input_size (h, w): None = 512x512 (384x1280 for ddd).
    eval_every: evaluate every N epochs (and after the last) on `val_data`, or on the training
    data when no val_data is given. max_steps stops early (total steps, resumes included).
    """

    task: str = "ctdet"
    arch: str = "res_18"
    data: "str | Path | DetectionSet" = "synthetic"
    out: Path = Path("runs/train")
    epochs: int = 70
    batch: int = 32
    lr: float | None = None
    lr_steps: tuple | None = None
    input_size: tuple | None = None
    init: str | None = None
    resume: bool = False
    amp: bool = False
    workers: int = 4
    eval_every: int = 0
    val_data: str | None = None
    eval_max_images: int | None = 500
    max_steps: int | None = None
    clip_grad: float | None = None
    ema: bool = False
    ema_decay: float = 0.9999
    precise_bn: int = 0
    save_every: int = 1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 317
    device: str = "auto"
    head_conv: int | None = None
    export_original: bool = False

    def __post_init__(self):   # checked before any work: a nan lr trains garbage, max_steps -1 still ran a step
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"--lr {self.lr:g} is not a positive number: give e.g. 1.25e-4, or leave it out for "
                              f"1.25e-4 x batch / 32")
        if self.clip_grad is not None and not (math.isfinite(self.clip_grad) and self.clip_grad > 0):
            raise ConfigError(f"--clip-grad {self.clip_grad:g} is not a positive number: give e.g. 35")
        for flag, value in (("--epochs", self.epochs), ("--batch", self.batch), ("--max-steps", self.max_steps),
                            ("--save-every", self.save_every)):
            if value is not None and value < 1:
                raise ConfigError(f"{flag} {value} is below 1: give a whole number of at least 1")
        check_max_images(self.eval_max_images, "--eval-max-images")

    def base_lr(self) -> float:
        return self.lr if self.lr is not None else BASE_LR * self.batch / BASE_BATCH

    def drop_epochs(self) -> tuple:
        if self.lr_steps is not None:
            return tuple(sorted({int(s) for s in self.lr_steps}))
        return tuple(sorted({round(self.epochs * d / ORIGINAL_EPOCHS) for d in ORIGINAL_DROPS}))

    def lr_at(self, epoch: int) -> float:
        """Learning rate of a 1-based epoch: x0.1 for every drop epoch already passed."""
        return self.base_lr() * 0.1 ** sum(epoch > s for s in self.drop_epochs())

    def input_hw(self) -> tuple:
        if self.input_size is not None:
            return tuple(int(v) for v in self.input_size)
        return (384, 1280) if self.task == "ddd" else (512, 512)

    def to_dict(self) -> dict:
        """Plain types only (stored in checkpoints, which are loaded with weights_only=True)."""
        d = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("data", "val_data"):
                v = describe_data(v)
            elif dataclasses.is_dataclass(v):
                v = dataclasses.asdict(v)
            elif isinstance(v, Path):
                v = str(v)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d


def describe_data(data) -> str | None:
    """What --data was, as text: the path or spec, or "name (N images)" for a set built in code."""
    if data is None or isinstance(data, (str, Path)):
        return None if data is None else str(data)
    return f"{getattr(data, 'name', 'data')} ({len(data)} images)"


@dataclass
class TrainResult:
    model: nn.Module          # the trained weights (the EMA ones with ema=True), on the training device
    info: CheckpointInfo
    out: Path
    last_checkpoint: Path
    global_step: int
    epochs: list              # per-epoch records, as in log.json
    images_per_s: float       # mean training throughput after the first step


class StackOutputs(nn.Module):
    """forward -> list of head dicts, one per stack: what the loss supervises (wrapped by DDP)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        if getattr(self.model, "num_stacks", 1) > 1:
            return self.model.forward_stacks(x)
        return [self.model(x)]


def preprocess_for(task: str, arch: str, input_hw: tuple) -> PreprocessSpec:
    mean, std = (KITTI_MEAN, KITTI_STD) if task == "ddd" else (COCO_MEAN_BGR, COCO_STD_BGR)
    return PreprocessSpec(input_size=tuple(input_hw), pad=127 if arch == "hourglass" else 31, mean=mean, std=std)


def heads_for(task: str, num_classes: int, num_joints: int) -> dict:
    heads = task_heads(task, num_classes)
    if task == "multi_pose" and num_joints and num_joints != heads["hm_hp"]:
        heads.update(hps=2 * num_joints, hm_hp=num_joints)
    return heads


def export_original(src, dst) -> Path:
    """Write one of our checkpoints in the original's layout ({'epoch', 'state_dict'})."""
    info, state_dict = read_checkpoint(src)
    epoch = int(info.meta.get("epoch", 0))
    atomic_save(to_original(state_dict, epoch), dst)
    return Path(dst)


def _unwrap(module: nn.Module) -> nn.Module:
    module = module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
    return module.model if isinstance(module, StackOutputs) else module


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def summarise_eval(result: dict) -> dict:
    """The metrics logged per epoch; "AP" is the one `best.pth` is chosen by."""
    if "kitti" in result:
        mods = [r["AP2D_R40"]["moderate"] for r in result["kitti"].values() if r["num_gt"]["moderate"]]
        return {"AP": (sum(mods) / len(mods) / 100) if mods else 0.0, "kitti": result["kitti"]}
    out = {"AP": result["bbox"]["AP"], "bbox": result["bbox"]}
    if "keypoints" in result:
        out.update(AP=result["keypoints"]["AP"], keypoints=result["keypoints"])
    return out


def train(config: TrainConfig, say: Callable[[str], None] = lambda _: None,
          progress: Progress = no_progress) -> TrainResult:
    """Train a CenterNet as `config` says; returns the trained model and where its files are. `say` hears the
    lines, `progress` each epoch's steps (the main process only)."""
    if config.task not in TASKS:
        raise ConfigError(f"unknown task {config.task!r}: use one of {', '.join(TASKS)}")
    if config.epochs < 1 or config.batch < 1:
        raise ConfigError("--epochs and --batch must be at least 1")
    new_out = not Path(config.out).exists()
    ctx = distributed.setup(config.device)
    try:
        if not ctx.is_main:
            say, progress = (lambda *_: None), no_progress
        return _train(config, ctx, say, progress)
    except BaseException:
        if new_out and ctx.is_main:
            remove_if_empty(Path(config.out))
        raise
    finally:
        distributed.cleanup(ctx)


@dataclass
class _Run:
    """One training run between its steps: built by `_setup`, advanced one epoch at a time."""

    config: TrainConfig
    ctx: distributed.DistContext
    say: Callable[[str], None]
    out: Path
    data: DetectionSet
    info: CheckpointInfo
    dataset: CenterNetDataset
    sampler: EpochSampler
    loader: object
    steps_per_epoch: int
    per_rank: int
    model: nn.Module
    wrapped: nn.Module            # what the steps call: StackOutputs, under DDP when distributed
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ModelEMA | None
    criterion: CenterNetLoss
    log: TrainLog | None          # the main process only
    val: DetectionSet | None
    use_amp: bool
    amp_dtype: torch.dtype
    epoch: int = 1
    start_batch: int = 0
    global_step: int = 0
    best_ap: float = -1.0
    throughput: list = field(default_factory=list)   # images/s per step

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    @property
    def last_path(self) -> Path:
        return self.out / "last.pth"

    @property
    def shown(self) -> nn.Module:
        """The weights that are evaluated and saved as the model: the EMA's when there is one."""
        return self.ema.model if self.ema else self.model


@dataclass
class _EpochSteps:
    """What one pass over an epoch's batches gave."""

    lr: float
    sums: dict
    count: int
    batch_index: int
    stopped: bool           # --max-steps reached before the epoch's end
    started: float          # perf_counter at the epoch's start


def _train(config: TrainConfig, ctx: distributed.DistContext, say, progress: Progress) -> TrainResult:
    run = _setup(config, ctx, say)
    while run.epoch <= config.epochs:
        steps = _train_epoch(run, progress)
        if steps.stopped:
            _stop_mid_epoch(run, steps)
            break
        _end_epoch(run, steps)
        distributed.barrier(ctx)
        run.epoch, run.start_batch = run.epoch + 1, 0
        if config.max_steps and run.global_step >= config.max_steps:
            break
    return _finish(run)


def _setup(config: TrainConfig, ctx: distributed.DistContext, say) -> _Run:
    """Data, model, optimizer, EMA, logs; the state of `last.pth` when resuming."""
    out = Path(config.out)
    if ctx.is_main:
        ensure_writable_dir(out, "--out")   # before the work, not when the first checkpoint is due
    device = ctx.device
    torch.manual_seed(config.seed)

    data = load_dataset(config.data, config.task, "train")
    if not len(data):
        raise ConfigError(f"--data {config.data} holds no images")
    input_hw = config.input_hw()
    if any(v % 32 for v in input_hw):
        raise ConfigError(f"input size {input_hw} must be multiples of 32")
    spec = preprocess_for(config.task, config.arch, input_hw)
    model, info = _build_model(config, data, spec, say)
    per_rank = config.batch // ctx.world
    if per_rank < 1:
        raise ConfigError(f"--batch {config.batch} is smaller than the {ctx.world} processes: "
                          f"give each one image at least")
    dataset, sampler, loader = _build_loader(config, ctx, data, spec, input_hw, per_rank)
    steps_per_epoch = sampler.batches_per_epoch()

    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.base_lr())
    use_amp = bool(config.amp)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and device.type == "cuda")
    ema = ModelEMA(model, config.ema_decay) if config.ema else None

    epoch, start_batch, global_step = 1, 0, 0
    last_path = out / "last.pth"
    if config.resume:
        epoch, start_batch, global_step = _resume(last_path, model, optimizer, scaler, ema, config, device)
        say(f"resumed from {last_path} at epoch {epoch}, batch {start_batch}, step {global_step}")

    wrapped: nn.Module = StackOutputs(model)
    if ctx.enabled:
        unused = set(info.heads) - used_heads(config.task, config.loss_weights)
        wrapped = nn.parallel.DistributedDataParallel(
            wrapped, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=bool(unused))
    criterion = CenterNetLoss(config.task, config.loss_weights)
    log = TrainLog(out, LOSS_NAMES[config.task], resume=config.resume) if ctx.is_main else None
    if log and config.resume:
        log.truncate_after(global_step)
    val = None
    if config.eval_every and ctx.is_main:
        val = load_dataset(config.val_data, config.task, "val") if config.val_data else data
        val = val.subset(config.eval_max_images)
    say(f"training {config.task} {config.arch} on {data.name} ({len(data)} images, {len(data.class_names)} classes) "
        f"at {input_hw[0]}x{input_hw[1]}, batch {config.batch} ({ctx.world} x {per_rank}), "
        f"{steps_per_epoch} steps/epoch, lr {config.base_lr():.3g} (x0.1 after epochs "
        f"{', '.join(map(str, config.drop_epochs())) or 'none'}), device {device}"
        f"{', AMP' if use_amp else ''}{', EMA' if ema else ''}")
    best_ap = max((e["eval"]["AP"] for e in (log.epochs if log else []) if isinstance(e.get("eval"), dict)
                   and "AP" in e["eval"]), default=-1.0)
    return _Run(config, ctx, say, out, data, info, dataset, sampler, loader, steps_per_epoch, per_rank, model,
                wrapped, optimizer, scaler, ema, criterion, log, val, use_amp, amp_dtype, epoch, start_batch,
                global_step, best_ap)


def _build_model(config: TrainConfig, data: DetectionSet, spec: PreprocessSpec, say) -> tuple[nn.Module,
                                                                                                CheckpointInfo]:
    """The model for the data's classes (from --init when given) and what its checkpoints will say."""
    heads = heads_for(config.task, len(data.class_names), data.num_joints)
    head_conv = config.head_conv or default_head_conv(config.arch)
    model = build_model(config.arch, config.task, heads=heads, head_conv=head_conv)
    info = CheckpointInfo(config.arch, config.task, heads, head_conv, tuple(data.class_names), spec,
                          {"rule": "centernet", "box_mode": "size", "k": 100}, "ours",
                          {"category_ids": [int(c) for c in data.category_ids],
                           "trained_on": describe_data(config.data)})
    if config.init and not config.resume:
        report = init_from_checkpoint(model, config.init)
        say(f"init from {config.init}: {report.summary()}")
    return model, info


def _build_loader(config: TrainConfig, ctx: distributed.DistContext, data: DetectionSet, spec: PreprocessSpec,
                  input_hw: tuple, per_rank: int):
    """This process's shard of the augmented training data, `per_rank` images a batch."""
    flip_pairs = COCO_FLIP_PAIRS if data.num_joints in (0, 17) else ()
    max_objects = KITTI_MAX_OBJECTS if config.task == "ddd" else MAX_OBJECTS
    dataset = CenterNetDataset(data, input_hw, spec, config.augment, config.seed, max_objects=max_objects,
                               flip_pairs=flip_pairs)
    sampler = EpochSampler(len(dataset), per_rank, shuffle=True, seed=config.seed, rank=ctx.rank, world=ctx.world)
    if sampler.batches_per_epoch() == 0:
        raise ConfigError(f"--batch {config.batch} is larger than the data ({len(dataset)} images): lower --batch")
    loader = make_loader(dataset, sampler, config.workers, pin_memory=ctx.device.type == "cuda")
    return dataset, sampler, loader


def _train_epoch(run: _Run, progress: Progress) -> _EpochSteps:
    """The epoch's batches from `run.start_batch` on, or up to --max-steps."""
    config = run.config
    lr = config.lr_at(run.epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    run.sampler.set_epoch(run.epoch, run.start_batch)
    steps = _EpochSteps(lr, {}, 0, run.start_batch, False, time.perf_counter())
    task = Task(f"epoch {run.epoch}/{config.epochs}", run.steps_per_epoch, "step")
    progress(task, steps.batch_index)
    tick = time.perf_counter()
    for batch in run.loader:
        values = _train_step(run, batch)
        run.global_step += 1
        steps.batch_index += 1
        now = time.perf_counter()
        ips = config.batch / max(now - tick, 1e-9)
        tick = now
        run.throughput.append(ips)
        for k, v in values.items():
            steps.sums[k] = steps.sums.get(k, 0.0) + v
        steps.count += 1
        if run.log:
            run.log.add_step({"step": run.global_step, "epoch": run.epoch, "lr": lr, "images_per_s": ips, **values})
        losses = ", ".join(f"{k.replace('_loss', '')}={v:.3f}" for k, v in values.items())
        progress(task, steps.batch_index, note=losses)
        if config.max_steps and run.global_step >= config.max_steps:
            steps.stopped = steps.batch_index < run.steps_per_epoch
            break
    progress(task, steps.batch_index, finished=True)
    return steps


def _train_step(run: _Run, batch: dict) -> dict[str, float]:
    """One optimizer step (AMP, clipping, EMA); the loss parts averaged over the processes."""
    config = run.config
    batch = _to_device(batch, run.device)
    with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
        outputs = run.wrapped(batch["input"])
    loss, parts = run.criterion(outputs, batch)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if config.clip_grad:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.clip_grad)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.ema is not None:
        run.ema.update(run.model)
    return distributed.all_reduce_mean({k: float(v.detach()) for k, v in parts.items()}, run.ctx)


def _stop_mid_epoch(run: _Run, steps: _EpochSteps) -> None:
    """--max-steps inside an epoch: `last.pth` remembers the batch to pick up at."""
    if run.config.precise_bn:
        _precise_bn(run.shown, run.dataset, run.config, run.ctx, run.epoch, run.per_rank)
    _save(run.last_path, run.model, run.ema, run.optimizer, run.scaler, run.info, run.config, run.epoch,
          steps.batch_index, run.global_step, run.ctx)
    run.say(f"stopped at step {run.global_step} (epoch {run.epoch}, batch {steps.batch_index}/"
            f"{run.steps_per_epoch}); continue with --resume")


def _end_epoch(run: _Run, steps: _EpochSteps) -> None:
    """The epoch's record: precise BN, validation, checkpoints, log line."""
    config, epoch = run.config, run.epoch
    record = {"epoch": epoch, "step": run.global_step, "lr": steps.lr,
              "seconds": round(time.perf_counter() - steps.started, 2),
              **{k: v / max(steps.count, 1) for k, v in steps.sums.items()}}
    last_epoch = epoch == config.epochs or bool(config.max_steps and run.global_step >= config.max_steps)
    evaluate_now = bool(config.eval_every) and (epoch % config.eval_every == 0 or last_epoch)  # same on all ranks
    save_now = epoch % max(config.save_every, 1) == 0 or last_epoch or epoch in config.drop_epochs()
    if config.precise_bn and (evaluate_now or save_now):
        _precise_bn(run.shown, run.dataset, config, run.ctx, epoch, run.per_rank)
    if evaluate_now and run.val is not None:
        record["eval"] = _evaluate(run.shown, run.info, run.val, run.device, run.say)
        run.model.train()
    if run.ctx.is_main:
        _checkpoint_epoch(run, record, save_now, evaluate_now)


def _checkpoint_epoch(run: _Run, record: dict, save_now: bool, evaluated: bool) -> None:
    """Main process: last.pth (resumable), model_<epoch>.pth before each drop, best.pth, the log."""
    config, epoch, shown = run.config, run.epoch, run.shown
    if save_now:
        _save(run.last_path, run.model, run.ema, run.optimizer, run.scaler, run.info, config, epoch + 1, 0,
              run.global_step, run.ctx)
    if epoch in config.drop_epochs():
        atomic_save(checkpoint_dict(shown, run.info, extra_meta={"epoch": epoch}), run.out / f"model_{epoch}.pth")
    ap = record.get("eval", {}).get("AP") if isinstance(record.get("eval"), dict) else None
    if ap is not None and ap > run.best_ap:
        run.best_ap = ap
        atomic_save(checkpoint_dict(shown, run.info, extra_meta={"epoch": epoch, "AP": ap}), run.out / "best.pth")
    run.log.add_epoch(record)
    if save_now or evaluated:
        run.log.plot()
    run.say(_epoch_line(record))


def _finish(run: _Run) -> TrainResult:
    distributed.broadcast_buffers(run.model, run.ctx)
    if run.log:
        run.log.plot()
    timed = run.throughput[1:] or run.throughput  # the first step warms up (allocations, workers)
    mean_ips = sum(timed) / len(timed) if timed else 0.0
    run.say(f"done: step {run.global_step}, {mean_ips:.2f} images/s; checkpoint {run.last_path}")
    return TrainResult(run.shown, run.info, run.out, run.last_path, run.global_step,
                       run.log.epochs if run.log else [], mean_ips)

def _precise_bn(model: nn.Module, dataset, config: TrainConfig, ctx, epoch: int, per_rank: int) -> None:
    """Exact BatchNorm statistics over `config.precise_bn` batches of this epoch's data, averaged over ranks."""
    sampler = EpochSampler(len(dataset), per_rank, shuffle=True, seed=config.seed + 1, rank=ctx.rank, world=ctx.world)
    sampler.set_epoch(epoch)
    loader = make_loader(dataset, sampler, 0)
    device = ctx.device
    batches = (b["input"].to(device) for _, b in zip(range(config.precise_bn), loader))
    recompute_bn_stats(model, batches)
    distributed.average_buffers(model, ctx)


def _epoch_line(record: dict) -> str:
    losses = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k.endswith("loss"))
    ev = record.get("eval")
    tail = f" | AP {ev['AP']:.4f}" if isinstance(ev, dict) and "AP" in ev else (
        f" | eval failed: {ev['error']}" if isinstance(ev, dict) and "error" in ev else "")
    head = f"epoch {record['epoch']} step {record['step']} lr {record['lr']:.3g}"
    return f"{head} | {losses} | {record['seconds']}s{tail}"


def _evaluate(model: nn.Module, info: CheckpointInfo, val, device, say) -> dict:
    try:
        return summarise_eval(evaluate(Detector(model, info, device=device), val))
    except CenterNetError as e:
        say(f"evaluation skipped: {e}")
        return {"error": str(e)}


def _save(path: Path, model, ema, optimizer, scaler, info, config: TrainConfig, epoch: int, batch: int, step: int,
          ctx) -> None:
    """last.pth: our format (loads in Detector) plus the state needed to resume exactly here."""
    if not ctx.is_main:
        return
    shown = ema.model if ema else model
    obj = checkpoint_dict(shown, info, extra_meta={"epoch": epoch - (1 if batch == 0 else 0), "step": step})
    obj["train_state"] = {
        "epoch": epoch, "batch": batch, "step": step, "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()} if ema else None,
        "ema": ema.state_dict() if ema else None, "config": config.to_dict()}
    atomic_save(obj, path)
    if config.export_original:
        atomic_save(to_original(obj["state_dict"], obj["meta"]["epoch"]), path.with_name("last_original.pth"))


def _resume(path: Path, model, optimizer, scaler, ema, config: TrainConfig, device) -> tuple[int, int, int]:
    if not path.exists():
        raise CheckpointError(f"--resume: no {path} to resume from (train once with this --out first)")
    obj = read_file(path)
    state = obj.get("train_state")
    if not state:
        raise CheckpointError(f"{path} holds no training state (saved by another tool?): use --init instead")
    if obj.get("arch") != config.arch or obj.get("task") != config.task:
        raise ConfigError(f"{path} is a {obj.get('task')} {obj.get('arch')} run, not {config.task} {config.arch}: "
                          f"use the same --task/--arch, or another --out")
    try:
        model.load_state_dict(state["model"] if state.get("model") is not None else obj["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path} does not fit this run ({str(e).splitlines()[0][:160]}): did --data "
                              f"(its classes) change? Use another --out, or --init {path}") from None
    for st in optimizer.state.values():
        for k, v in st.items():
            if isinstance(v, torch.Tensor) and k != "step":
                st[k] = v.to(device)
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    if ema is not None:
        if state.get("ema"):
            ema.load_state_dict(state["ema"])
        else:
            ema.model.load_state_dict(obj["state_dict"])
    return int(state["epoch"]), int(state["batch"]), int(state["step"])

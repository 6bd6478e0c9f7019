"""`main.py train` and `main.py eval`: argument parsing only; the work is in `train/` and `evaluate.py`."""
from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.options import (ARCH, BATCH, DATA, DEVICE, FLIP, INPUT_SIZE, KEEP_RES, MAX_IMAGES, OUT, QUIET, RESUME,
                             SCALES, TASK, WEIGHTS, WORKERS)
from app.cli.progress import bars
from centernet.data.augment import AugmentConfig
from centernet.evaluation.metrics import EvalOptions, run_eval
from centernet.io.writers.atomic import ensure_writable_file
from centernet.train import TrainConfig, train
from centernet.train.losses import LossWeights


def _epochs(text: str) -> tuple:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad epochs {text!r}: use e.g. 90,120") from None


def cmd_train(args) -> int:
    weights = LossWeights(hm=args.hm_weight, wh=args.wh_weight, off=args.off_weight)
    config = TrainConfig(
        task=args.task, arch=args.arch, data=args.data, out=args.out, epochs=args.epochs, batch=args.batch,
        lr=args.lr, lr_steps=args.lr_steps, input_size=args.input_size, init=args.init, resume=args.resume,
        amp=args.amp, workers=args.workers, eval_every=args.eval_every, val_data=args.val_data,
        eval_max_images=args.eval_max_images, max_steps=args.max_steps, clip_grad=args.clip_grad, ema=args.ema,
        precise_bn=args.precise_bn, save_every=args.save_every,
        augment=AugmentConfig() if not args.no_aug else AugmentConfig.off(), loss_weights=weights, seed=args.seed,
        device=args.device, export_original=args.export_original)
    train(config, say=(lambda *a: None) if args.quiet else print, progress=bars(args.quiet))
    return 0


def cmd_eval(args) -> int:
    for flag, path in (("--out", args.out), ("--detections", args.detections)):
        if path is not None:
            ensure_writable_file(path, flag)  # before the evaluation, not after it
    options = EvalOptions(weights=args.weights, data=args.data, flip=args.flip, scales=args.scales,
                          max_images=args.max_images, out=args.out, detections_out=args.detections, device=args.device,
                          input_size=args.input_size, keep_res=args.keep_res)
    run_eval(options, progress=bars(args.quiet), say=print)
    return 0


def add_parser(sub) -> None:
    """`train` and `eval`."""
    p = sub.add_parser("train", help="train a CenterNet on COCO-format, KITTI or synthetic data (torchrun for DDP)")
    TASK.add(p, default="ctdet", help="task (default ctdet)")
    ARCH.add(p, default="res_18", help="res_18, resdcn_18, dla_34, hourglass, ... (default res_18)")
    DATA.add(p, required=True, help="COCO folder or annotation .json, KITTI folder (ddd), or synthetic[:N]")
    p.add_argument("--val-data", help="evaluation data (default: the training data)")
    OUT.add(p, default=Path("runs/train"), help="run folder (default runs/train)")
    p.add_argument("--epochs", type=int, default=70)
    BATCH.add(p, default=32, help="global batch, split over torchrun processes (default 32)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1.25e-4 x batch / 32)")
    p.add_argument("--lr-steps", type=_epochs, help="epochs after which lr drops x0.1 (default: 90,120 of 140, scaled)")
    INPUT_SIZE.add(p, help="HxW or N (default 512; ddd 384x1280)")
    p.add_argument("--init", help="start from this checkpoint (ours, original, default model): what fits is loaded")
    RESUME.add(p, help="continue OUT/last.pth at the same step and lr")
    p.add_argument("--amp", action="store_true", help="mixed precision (fp16 on CUDA, bf16 on CPU)")
    WORKERS.add(p, default=4, help="data loading processes (default 4)")
    p.add_argument("--eval-every", type=int, default=0, help="evaluate every N epochs (default: never)")
    p.add_argument("--eval-max-images", type=int, default=500, help="evaluate on at most this many images")
    p.add_argument("--max-steps", type=int,
                   help="stop after this many steps in total (a resumable checkpoint is saved)")
    p.add_argument("--clip-grad", type=float, help="clip the gradient norm to this")
    p.add_argument("--ema", action="store_true", help="keep an exponential moving average of the weights")
    p.add_argument("--precise-bn", type=int, default=0, metavar="N",
                   help="recompute BatchNorm statistics over N batches before each evaluation and checkpoint")
    p.add_argument("--save-every", type=int, default=1, metavar="N", help="write last.pth every N epochs (default 1)")
    p.add_argument("--no-aug", action="store_true", help="no crop, flip or colour augmentation")
    p.add_argument("--hm-weight", type=float, default=1.0)
    p.add_argument("--wh-weight", type=float, default=0.1)
    p.add_argument("--off-weight", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=317)
    DEVICE.add(p, help="cpu, cuda or auto (torchrun: one GPU per process)")
    p.add_argument("--export-original", action="store_true", help="also write last_original.pth in the original layout")
    QUIET.add(p, help="no progress bars or messages")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="COCO box/keypoint AP or KITTI AP/AOS of a checkpoint on a dataset")
    WEIGHTS.add(p, required=True, help="checkpoint (ours or the original's)")
    DATA.add(p, required=True)
    FLIP.add(p, help="flip test augmentation")
    SCALES.add(p, default=None, help="multi-scale test, e.g. 0.5,0.75,1,1.25,1.5")
    MAX_IMAGES.add(p, help="evaluate the first N images only")
    OUT.add(p, help="write the metrics JSON here")
    p.add_argument("--detections", type=Path, help="write the detections (COCO results / KITTI lines) here")
    DEVICE.add(p, help="cpu, cuda, cuda:N or auto (default)")
    INPUT_SIZE.add(p)
    KEEP_RES.add(p)
    QUIET.add(p)
    p.set_defaults(func=cmd_eval)

"""Run by torchrun in test_ddp.py: a short DDP training, then each rank saves the weights it ended with."""
import sys
from pathlib import Path

import torch

from centernet.data.augment import AugmentConfig
from centernet.train import TrainConfig, train


def main(out: str) -> None:
    config = TrainConfig(task="ctdet", arch="res_18", data="synthetic:8", out=Path(out), epochs=1, batch=4, lr=1e-3,
                         lr_steps=(), input_size=(64, 64), workers=0, max_steps=2, augment=AugmentConfig(),
                         device="cpu")
    result = train(config, say=lambda s: print(s, flush=True))
    rank = int(__import__("os").environ["RANK"])
    torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, Path(out) / f"rank{rank}.pt")
    print(f"rank {rank} step {result.global_step}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Batches for training: an epoch-aware sampler (shuffle, DDP shards, resume mid-epoch) and the loader."""
from __future__ import annotations

import numpy as np
import torch


class EpochSampler(torch.utils.data.Sampler):
    """Indices `epoch * n + i` for one epoch: shuffled by (seed, epoch), this rank's shard, from a batch on.

    Every rank draws the same permutation and takes every world-th index (padded by wrapping so all
    ranks get the same count), like DistributedSampler. `start_batch` skips the batches a resumed
    run already trained on, without loading them.
    """

    def __init__(self, size: int, batch_size: int, shuffle: bool = True, seed: int = 317, rank: int = 0,
                 world: int = 1, drop_last: bool = True):
        if size == 0:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, seed
        self.rank, self.world, self.drop_last = rank, world, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def per_rank(self) -> int:
        return -(-self.size // self.world)

    def batches_per_epoch(self) -> int:
        n = self.per_rank()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _indices(self) -> np.ndarray:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.size) if self.shuffle
                 else np.arange(self.size))
        total = self.per_rank() * self.world
        order = np.resize(order, total)  # wraps around to pad
        mine = order[self.rank::self.world]
        usable = self.batches_per_epoch() * self.batch_size
        return mine[self.start_batch * self.batch_size:usable]

    def __iter__(self):
        return iter((self.epoch * self.size + self._indices()).tolist())

    def __len__(self) -> int:
        return len(self._indices())


def make_loader(dataset, sampler: EpochSampler, workers: int = 4,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader over `sampler`'s indices; workers stay alive across epochs."""
    return torch.utils.data.DataLoader(dataset, batch_size=sampler.batch_size, sampler=sampler, num_workers=workers,
                                       pin_memory=pin_memory, drop_last=sampler.drop_last,
                                       persistent_workers=workers > 0)

"""The ``data:`` section as a LightningDataModule: a resumable, rank-aware training loader, a plain validation one."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from sepkit.train.config import section
from sepkit.train.datasets import build_dataset
from sepkit.train.loader import EpochBatchSampler, IndexedDataset, ResumableLoader, collate

DATA_KEYS: dict[str, Any] = {
    "train": None,
    "valid": None,
    "batch_size": 4,
    "valid_batch_size": None,  # default: batch_size, or 1 for a fixed set (its files differ in length)
    "num_workers": 0,
    "shuffle": True,
    "new_mixtures_each_epoch": True,  # on-the-fly sets draw new mixtures per epoch; false: the same ones
}


class TrainingData(pl.LightningDataModule):
    """Datasets built once from the config (so errors surface before training starts); loaders built per rank."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.opts = section(config, "data", DATA_KEYS)
        rate, seed = int(config["sample_rate"]), int(config.get("seed") or 0)
        self.seed = seed
        self.train_set: Dataset = build_dataset(self.opts["train"], "data.train", rate, seed)
        self.valid_set: Dataset | None = None
        if self.opts["valid"] is not None:
            self.valid_set = build_dataset(self.opts["valid"], "data.valid", rate, seed + 1)

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> ResumableLoader:
        rank, world = self._rank()
        sampler = EpochBatchSampler(
            len(self.train_set), int(self.opts["batch_size"]), self.seed, bool(self.opts["shuffle"]), rank, world
        )
        workers = int(self.opts["num_workers"])
        dataset = IndexedDataset(self.train_set, bool(self.opts["new_mixtures_each_epoch"]))
        return ResumableLoader(
            dataset, sampler, collate_fn=collate, num_workers=workers, persistent_workers=workers > 0
        )

    def valid_batch_size(self) -> int:
        """``data.valid_batch_size``, by default ``batch_size``, or 1 for a fixed set (its files differ in length)."""
        batch = self.opts["valid_batch_size"]
        if batch is None:
            batch = 1 if self.opts["valid"].get("type") == "fixed" else self.opts["batch_size"]
        return int(batch)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if self.valid_set is None:
            return []
        rank, world = self._rank()
        batch = self.valid_batch_size()
        dataset = IndexedDataset(self.valid_set)  # integer keys: epoch 0, the same mixtures at every validation
        # Shards pad by repeating a few items so that every rank runs the same number of batches.
        sampler = DistributedSampler(dataset, world, rank, shuffle=False) if world > 1 else None
        workers = int(self.opts["num_workers"])
        # Its own generator: creating loader iterators must not draw from the global RNG (part of the resume).
        return DataLoader(
            dataset,
            batch_size=int(batch),
            sampler=sampler,
            collate_fn=collate,
            num_workers=workers,
            persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

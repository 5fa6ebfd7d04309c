"""Data loaders whose position can be saved and restored, so a killed run resumes mid-epoch exactly.

The training order is a pure function of (seed, epoch): a seeded permutation, split across DDP
ranks, cut into batches. ``ResumableLoader`` counts the batches it has handed to the training
loop (not those its workers have prefetched) and exposes ``state_dict()``/``load_state_dict()``;
Lightning stores that state in every checkpoint (``FitLoop.on_save_checkpoint``) and gives it
back before the first ``iter()`` on resume, so iteration continues at the next unseen batch.
The loader tracks its own epoch (a new pass starts when the previous one was used up), so it
does not depend on when Lightning calls ``set_epoch`` relative to ``iter``. Each index travels
with its epoch, ``(epoch, index)``, so on-the-fly datasets that draw new mixtures every epoch
(``set_epoch``) get the right epoch even inside persistent worker processes.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from sepkit.errors import ConfigError


class IndexedDataset(Dataset):
    """Adds ``"index"`` to every item; a key ``(epoch, index)`` first moves an epoch-aware dataset to ``epoch``."""

    def __init__(self, dataset: Dataset, follow_epochs: bool = True) -> None:
        self.dataset = dataset
        self.follow_epochs = follow_epochs and callable(getattr(dataset, "set_epoch", None))

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (None, key)
        if epoch is not None and self.follow_epochs:
            self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        item = dict(self.dataset[index])
        item["index"] = int(index)
        return item


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack item dicts into a batch; items of different lengths get a clear error instead of a stack trace."""
    lengths = {np.shape(item["mixture"])[-1] for item in items}
    if len(lengths) > 1:
        raise ConfigError(f"a batch mixes items of {len(lengths)} lengths: use fixed-length segments or batch size 1")
    return default_collate(items)


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """This rank's batches of a (seed, epoch)-seeded permutation, from batch ``start`` on; incomplete batches are dropped.

    Batches hold ``(epoch, index)`` keys for ``IndexedDataset``.
    """

    def __init__(
        self, n_items: int, batch_size: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"data.batch_size must be positive, not {batch_size}")
        self.n_items, self.batch_size, self.seed, self.shuffle = n_items, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start = 0
        if len(self) == 0:
            raise ConfigError(
                f"{n_items} training items make no full batch of {batch_size} per device ({world_size} devices)"
            )

    def __len__(self) -> int:
        return (self.n_items // self.world_size) // self.batch_size

    def batches(self, epoch: int) -> list[list[int]]:
        """All of this rank's batches in ``epoch``, in order."""
        if self.shuffle:
            order = torch.randperm(self.n_items, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
        else:
            order = torch.arange(self.n_items)
        mine = order[: self.n_items - self.n_items % self.world_size][self.rank :: self.world_size].tolist()
        return [mine[i * self.batch_size : (i + 1) * self.batch_size] for i in range(len(self))]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.batches(self.epoch)[self.start :]:
            yield [(self.epoch, i) for i in batch]


class ResumableLoader(DataLoader):
    """A training ``DataLoader`` over an ``EpochBatchSampler`` that can save and restore its position."""

    def __init__(self, dataset: Dataset, sampler: EpochBatchSampler, **kwargs: Any) -> None:
        self.order = sampler
        self.position = 0  # batches of the current epoch handed out so far
        # A private generator keeps worker seeding off the global RNG, whose state is part of the resume.
        super().__init__(
            dataset, batch_sampler=sampler, generator=torch.Generator().manual_seed(sampler.seed), **kwargs
        )

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        if self.position >= len(self.order):  # the previous pass was used up: next epoch
            self.order.epoch += 1
            self.position = 0
        self.order.start = self.position
        for batch in super().__iter__():
            self.position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Epoch and batches consumed, as plain ints (checkpoints load with ``weights_only=True``)."""
        return {"epoch": self.order.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a saved position; the next ``iter()`` yields the first batch not yet trained on."""
        self.order.epoch = int(state["epoch"])
        self.position = int(state["position"])

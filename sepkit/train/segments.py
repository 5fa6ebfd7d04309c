"""Fixed-length random crops of a fixed set's whole files, so pre-mixed corpora (LibriMix, WHAM!,
VoiceBank-DEMAND) can be trained on in batches.

The crop start is a pure function of (seed, epoch, index); files shorter than the segment are
zero-padded at the end. Every array in the item whose last axis has the mixture's length
(mixture, sources, noise) is cut at the same place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class RandomSegments(Dataset):
    """``dataset``'s items cut to ``segment_seconds`` at a reproducible random offset (new offsets each epoch)."""

    def __init__(self, dataset: Dataset, segment_seconds: float, sample_rate: int, seed: int = 0) -> None:
        self.dataset = dataset
        self.length = int(round(segment_seconds * sample_rate))
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        """Draw new crop offsets for ``epoch``."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index])
        total = int(np.shape(item["mixture"])[-1])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        start = int(rng.integers(0, total - self.length + 1)) if total > self.length else 0
        for key, value in item.items():
            if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim >= 1 and value.shape[-1] == total:
                item[key] = self._cut(torch.as_tensor(value), start)
        return item

    def _cut(self, x: torch.Tensor, start: int) -> torch.Tensor:
        x = x[..., start : start + self.length]
        return torch.nn.functional.pad(x, (0, self.length - x.shape[-1]))

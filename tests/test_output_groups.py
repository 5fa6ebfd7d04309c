"""Balanced output groups: a MixIT network's spare outputs summed back into whole sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

import sepkit
from sepkit.inference.output_groups import balanced_groups, partitions
from sepkit.models import register_model
from sepkit.pretrained import ModelConfig, export_model


def split(wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two uncorrelated halves of equal energy of white noise ``(B, T)``: its low-pass and high-pass parts."""
    prev = torch.nn.functional.pad(wav, (1, 0))[:, :-1]
    return (wav + prev) / 2, (wav - prev) / 2


@pytest.mark.parametrize(("m", "k", "count"), [(4, 2, 7), (4, 1, 1), (4, 4, 1), (5, 2, 15), (6, 3, 90)])
def test_partitions_are_every_split_once(m: int, k: int, count: int) -> None:
    """The number of splits is the Stirling number S(m, k); every output is in exactly one non-empty group."""
    masks = partitions(m, k)
    assert masks.shape == (count, k, m)
    assert torch.equal(masks.sum(1), torch.ones(count, m))
    assert bool((masks.sum(-1) >= 1).all())
    assert len({tuple(p.flatten().tolist()) for p in masks}) == count
    with pytest.raises(ValueError, match="cannot split"):
        partitions(2, 3)


def test_balanced_groups_rejoin_a_split_source() -> None:
    """Two sources of equal level, each split unevenly over two outputs (0.8/0.2 and 0.5/0.5): summed back whole."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 4000, generator=gen)
    est = torch.stack([0.8 * b, 0.5 * a, 0.2 * b, 0.5 * a])[None]
    groups = balanced_groups(est, 2)[0]  # groups listed by their lowest output: b's (0, 2), then a's (1, 3)
    torch.testing.assert_close(groups, torch.stack([b, a]))
    # It is a prior, not an oracle: sources 9 dB apart are regrouped towards alike energies instead.
    uneven = torch.stack([0.7 * b, a, 0.01 * a, a])[None]
    assert not torch.allclose(balanced_groups(uneven, 2)[0, 0], 0.7 * b)


def test_balanced_rule_through_the_engine_keeps_each_source_in_one_output(tmp_path: Path) -> None:
    """Per chunk the network shuffles its four outputs; "balanced" still returns the two sources whole, in one order."""

    class SplitSources(nn.Module):
        """Sources of equal level on white noise, (x[n] + x[n-1]) / 2 and (x[n] - x[n-1]) / 2, each split over two outputs."""

        def __init__(self) -> None:
            super().__init__()
            self.n_src = 4
            self.gen = torch.Generator().manual_seed(1)

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            low, high = split(wav)
            est = torch.stack([0.6 * low, 0.4 * low, 0.7 * high, 0.3 * high], 1)
            order = torch.stack([torch.randperm(4, generator=self.gen) for _ in range(wav.shape[0])])
            return torch.gather(est, 1, order[..., None].expand_as(est))

    register_model("test_split_sources")(SplitSources)
    config = ModelConfig(
        arch="test_split_sources",
        args={},
        sample_rate=16000,
        task="separate",
        n_src=2,
        source_outputs="balanced",
        inference={"chunk_seconds": 0.2, "overlap_seconds": 0.05},
    )
    model = sepkit.load(export_model(SplitSources(), tmp_path / "split", config), device="cpu")
    gen = torch.Generator().manual_seed(2)
    x = 0.1 * torch.randn(16000, generator=gen)
    low, high = (s[0].numpy() for s in split(x[None]))
    out = model.separate(x.numpy(), 16000)
    assert out.shape == (2, 16000)
    first = int(abs(np.dot(out[1], low)) > abs(np.dot(out[0], low)))  # which output is the low-pass source
    for est, ref in ((out[first], low), (out[1 - first], high)):
        snr = 10 * np.log10(np.sum(ref**2) / np.sum((est - ref) ** 2))
        assert snr > 30, snr  # whole, and the same source in every chunk

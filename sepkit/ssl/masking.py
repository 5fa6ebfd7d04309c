"""Masks for masked-prediction pretraining: time spans (wav2vec 2.0, HuBERT, TERA) and frequency bands (TERA).

All are vectorised over the batch and draw from an optional ``torch.Generator`` so that
validation can use the same masks at every evaluation.
"""

from __future__ import annotations

import torch


def span_mask(
    batch: int,
    frames: int,
    prob: float,
    span: int,
    min_spans: int = 1,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean (B, F) mask of spans of ``span`` frames starting at ``prob * F / span`` distinct random frames.

    Spans may overlap and merge, so the covered fraction is about ``1 - exp(-prob)``: prob 0.65 with
    span 10 covers about half the frames (wav2vec 2.0), prob 0.15 with span 7 about 14 % (TERA).
    The count is rounded at random (``floor(x + u)``), so its mean is exact for short inputs too.
    """
    span = max(1, min(int(span), frames))
    starts_available = frames - span + 1
    wanted = prob * frames / span + torch.rand((), generator=generator).item()
    count = min(starts_available, max(int(min_spans), int(wanted)))
    noise = torch.rand(batch, starts_available, generator=generator).to(device)
    starts = noise.argsort(-1)[:, :count]
    onsets = torch.zeros(batch, frames + 1, device=device)
    onsets.scatter_(1, starts, 1.0)
    onsets.scatter_add_(1, starts + span, torch.full_like(starts, -1.0, dtype=onsets.dtype))
    return onsets.cumsum(1)[:, :frames] > 0.5  # spans open at a start and close span frames later


def band_mask(
    batch: int,
    bins: int,
    max_fraction: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean (B, bins) mask: one band of consecutive bins per item, width uniform in [0, max_fraction * bins]."""
    widest = int(max_fraction * bins)
    width = torch.randint(0, widest + 1, (batch, 1), generator=generator)
    start = (torch.rand(batch, 1, generator=generator) * (bins - width + 1)).long()
    index = torch.arange(bins)[None]
    return ((index >= start) & (index < start + width)).to(device)

"""The one interface every sepkit model has: mono waveforms in, K waveforms out.

``forward(wav)`` takes ``(batch, time)`` at ``model.sample_rate`` and returns
``(batch, n_src, time)``; enhancers have ``n_src == 1``. Inference, training and export
rely on nothing else, so any registered model works with any recipe whose shapes it fits.
"""

from __future__ import annotations

from typing import Iterable, Protocol, runtime_checkable

import torch
import torch.nn as nn


@runtime_checkable
class SeparationModel(Protocol):
    """Structural type of sepkit models (an ``nn.Module`` with these attributes)."""

    sample_rate: int
    n_src: int

    def __call__(self, wav: torch.Tensor) -> torch.Tensor: ...


def fit_length(est: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to ``length`` (models with strided filterbanks drift by a few samples)."""
    if est.shape[-1] == length:
        return est
    if est.shape[-1] > length:
        return est[..., :length]
    return nn.functional.pad(est, (0, length - est.shape[-1]))


def match_mixture_gain(est: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """``(B, K, T)`` estimates times one least-squares gain each batch item, so that they sum closest to ``mixture``.

    A separator trained on a scale-invariant loss leaves its outputs' level and polarity arbitrary; this
    puts them back at the mixture's, the same gain for every source so their balance stays.
    """
    total = est.sum(1)  # (B, T)
    gain = (total * mixture).sum(-1) / (total * total).sum(-1).clamp_min(torch.finfo(est.dtype).tiny)
    return est * gain[:, None, None]


def first_non_finite(named: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating tensor holding a NaN or infinite value, or ``None``: a diverged run's weights,
    which training, export, warm starts and loading all refuse rather than pass on."""
    return next((n for n, t in named if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)

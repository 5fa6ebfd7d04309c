"""Shared input handling for the metric functions: float64 1-D pairs cropped to the shorter one."""

from __future__ import annotations

import numpy as np


class MetricWarning(UserWarning):
    """A metric that could not be computed on this input and returned NaN, or had to adjust it."""


def as_signal(x: np.ndarray, name: str = "signal") -> np.ndarray:
    """``x`` as a non-empty float64 1-D array; a ``ValueError`` names what is wrong otherwise."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (samples,), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    return a


def crop_pair(est: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 1-D ``(est, ref)`` cropped to the shorter of the two (lengths may differ by design)."""
    e, r = as_signal(est, "estimate"), as_signal(ref, "reference")
    n = min(e.size, r.size)
    return e[:n], r[:n]


def resample(x: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Resample the last axis with torchaudio's windowed sinc; float64 in, float64 out."""
    if orig_sr == new_sr:
        return x
    import torch

    from sepkit.audio.resample import resample as _resample

    return _resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), orig_sr, new_sr).numpy()

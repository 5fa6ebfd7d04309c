"""Scale-invariant SDR (Le Roux et al. 2019, "SDR – half-baked or well done?"), numpy and torch.

Both signals are made zero-mean, the reference is scaled by the least-squares gain
``α = ⟨ŝ, s⟩ / ‖s‖²`` and the SI-SDR is ``10 log10(‖αs‖² / ‖ŝ − αs‖²)``. As in torchmetrics,
machine epsilon is added to the numerators and denominators of ``α`` and of the ratio, so
nothing is ever NaN or infinite: a perfect estimate gives a large value (≈ 150 dB and up), a
silent reference a very low one, and a silent estimate exactly 0 dB. Both versions compute in
float64, so they agree with each other and with torchmetrics' float64 result.
"""

from __future__ import annotations

import numpy as np
import torch

_EPS = float(np.finfo(np.float64).eps)


def si_sdr(est: np.ndarray, ref: np.ndarray, sample_rate: int | None = None) -> float | np.ndarray:
    """SI-SDR in dB of ``est`` against ``ref`` (``(..., T)``, broadcast; the longer one is cropped).

    1-D inputs give a float; batched ``(..., T)`` inputs give an array of shape ``(...)``.
    ``sample_rate`` is accepted for a uniform metric signature and not used.
    """
    e = np.asarray(est, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if e.ndim == 0 or r.ndim == 0 or min(e.shape[-1], r.shape[-1]) == 0:
        raise ValueError(f"si_sdr needs non-empty (..., T) signals, got shapes {e.shape} and {r.shape}")
    n = min(e.shape[-1], r.shape[-1])
    e = e[..., :n] - e[..., :n].mean(-1, keepdims=True)
    r = r[..., :n] - r[..., :n].mean(-1, keepdims=True)
    alpha = ((e * r).sum(-1, keepdims=True) + _EPS) / ((r * r).sum(-1, keepdims=True) + _EPS)
    target = alpha * r
    noise = e - target
    value = 10.0 * np.log10(((target * target).sum(-1) + _EPS) / ((noise * noise).sum(-1) + _EPS))
    return float(value) if value.ndim == 0 else value


def si_sdr_torch(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB for training and validation: ``(..., T), (..., T) -> (...)``, differentiable.

    Same maths as :func:`si_sdr` (float64 inside, returned in ``est``'s dtype); the shapes must
    broadcast and the time axes must be equal.
    """
    if est.shape[-1] != ref.shape[-1]:
        raise ValueError(f"si_sdr_torch: estimate has {est.shape[-1]} samples but reference {ref.shape[-1]}")
    e = est.double()
    r = ref.double()
    e = e - e.mean(-1, keepdim=True)
    r = r - r.mean(-1, keepdim=True)
    alpha = ((e * r).sum(-1, keepdim=True) + _EPS) / ((r * r).sum(-1, keepdim=True) + _EPS)
    target = alpha * r
    noise = e - target
    value = 10.0 * torch.log10(((target * target).sum(-1) + _EPS) / ((noise * noise).sum(-1) + _EPS))
    return value.to(est.dtype) if est.is_floating_point() else value

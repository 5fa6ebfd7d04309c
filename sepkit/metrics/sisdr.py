"""Scale-invariant SDR (Le Roux et al. 2019, "SDR – half-baked or well done?") as a metric, numpy and torch.

Both signals are made zero-mean, the reference is scaled by the least-squares gain
``α = ⟨ŝ, s⟩ / ‖s‖²`` and the SI-SDR is ``10 log10(‖αs‖² / ‖ŝ − αs‖²)``; the two energies come from
``sepkit.losses.criteria.si_sdr_terms``, the one definition the training loss uses too. As in
torchmetrics, machine epsilon is added to the numerators and denominators of ``α`` and of the
ratio, so nothing is ever NaN or infinite: a perfect estimate gives a large value (≈ 150 dB and
up), a silent reference a very low one, and a silent estimate exactly 0 dB. (The loss keeps the
ratio finite differently, so that silence is its worst case: see ``neg_si_sdr``.) The numpy
version is the torch one on float64 arrays, so the two agree with each other and with
torchmetrics' float64 result.
"""

from __future__ import annotations

import numpy as np
import torch

from sepkit.losses.criteria import si_sdr_terms

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
    value = si_sdr_torch(
        torch.from_numpy(np.array(e[..., :n])),  # copies: inputs may be read-only views
        torch.from_numpy(np.array(r[..., :n])),
    ).numpy()
    return float(value) if value.ndim == 0 else value


def si_sdr_torch(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB for training and validation: ``(..., T), (..., T) -> (...)``, differentiable.

    Float64 inside, returned in ``est``'s dtype; the shapes must broadcast and the time axes must
    be equal.
    """
    if est.shape[-1] != ref.shape[-1]:
        raise ValueError(f"si_sdr_torch: estimate has {est.shape[-1]} samples but reference {ref.shape[-1]}")
    target, residual = si_sdr_terms(est, ref, eps=_EPS, gain_eps=_EPS)
    value = 10.0 * torch.log10((target + _EPS) / (residual + _EPS))
    return value.to(est.dtype) if est.is_floating_point() else value

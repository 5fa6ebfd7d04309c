"""Signal-level criteria on ``(..., T)`` waveforms, each in an elementwise and a pairwise form.

Every criterion here is a formula of three energies: ``‖ŝ‖²``, ``‖s‖²`` and ``⟨ŝ, s⟩``. The
pairwise form gets all K×K cross products from one batched matmul instead of materialising
K×K waveform differences, which is faster and uses O(K²) rather than O(K²·T) memory. The
energies are accumulated in float64 so that the cancellation in ``‖ŝ − αs‖² = ‖ŝ‖² − …`` stays
accurate well past 100 dB. Lower is better for every function here (they are losses).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

EPS = 1e-8

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Energies(NamedTuple):
    est: torch.Tensor  # ‖ŝ‖²
    ref: torch.Tensor  # ‖s‖²
    cross: torch.Tensor  # ⟨ŝ, s⟩


def _energies(est: torch.Tensor, ref: torch.Tensor, pairwise: bool, zero_mean: bool) -> _Energies:
    """Energies and cross products in float64; pairwise gives est i against ref j at [..., i, j]."""
    if est.shape[-1] != ref.shape[-1]:
        raise ValueError(f"estimates have {est.shape[-1]} samples but references {ref.shape[-1]}")
    with torch.autocast(device_type=est.device.type, enabled=False):
        e, r = est.double(), ref.double()
        if zero_mean:
            e = e - e.mean(-1, keepdim=True)
            r = r - r.mean(-1, keepdim=True)
        ee, rr = (e * e).sum(-1), (r * r).sum(-1)
        if pairwise:
            return _Energies(ee.unsqueeze(-1), rr.unsqueeze(-2), e @ r.transpose(-1, -2))
        return _Energies(ee, rr, (e * r).sum(-1))


def _db(x: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(x)


def _si_sdr_terms(en: _Energies, eps: float, gain_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SI-SDR's two energies, ``(‖αs‖², ‖ŝ − αs‖²)`` with ``α = (⟨ŝ, s⟩ + gain_eps) / (‖s‖² + eps)``."""
    alpha = (en.cross + gain_eps) / (en.ref + eps)
    target = alpha * alpha * en.ref  # ‖αs‖²
    residual = (en.est - 2 * alpha * en.cross + target).clamp_min(0)  # ‖ŝ − αs‖²
    return target, residual


def si_sdr_terms(
    est: torch.Tensor, ref: torch.Tensor, eps: float = EPS, gain_eps: float = 0.0, pairwise: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The energies SI-SDR is the ratio of, ``‖αs‖²`` and ``‖ŝ − αs‖²``, in float64: ``(..., T) -> (...)``.

    Both signals are made zero-mean and ``α = (⟨ŝ, s⟩ + gain_eps) / (‖s‖² + eps)`` is the
    least-squares gain (Le Roux et al. 2019). This is the one definition of SI-SDR in sepkit: the
    loss ``neg_si_sdr`` and the metric ``sepkit.metrics.si_sdr`` take their decibels from it and
    differ only in how they keep the ratio finite. ``pairwise`` gives every estimate against every
    reference, ``(..., K, T), (..., N, T) -> (..., K, N)``.
    """
    return _si_sdr_terms(_energies(est, ref, pairwise, True), eps, gain_eps)


def _neg_si_sdr(en: _Energies, eps: float, sdr_max: float | None = None) -> torch.Tensor:
    target, residual = _si_sdr_terms(en, eps, 0.0)
    if sdr_max is not None:  # soft ceiling, as MixIT's τ: the value saturates at sdr_max dB and stops pulling
        residual = residual + 10.0 ** (-sdr_max / 10.0) * target
    return -_db(target / (residual + eps) + eps)


def _neg_snr(en: _Energies, eps: float) -> torch.Tensor:
    error = (en.est - 2 * en.cross + en.ref).clamp_min(0)  # ‖s − ŝ‖²
    return -_db(en.ref / (error + eps) + eps)


def _neg_sd_sdr(en: _Energies, eps: float) -> torch.Tensor:
    alpha = en.cross / (en.ref + eps)
    error = (en.est - 2 * en.cross + en.ref).clamp_min(0)
    return -_db(alpha * alpha * en.ref / (error + eps) + eps)


def _thresholded_snr(en: _Energies, snr_max: float, eps: float) -> torch.Tensor:
    tau = 10.0 ** (-snr_max / 10.0)
    error = (en.est - 2 * en.cross + en.ref).clamp_min(0)
    return _db(error + tau * en.ref + eps)


def _out(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return value.to(like.dtype)


def neg_si_sdr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS, sdr_max: float | None = None) -> torch.Tensor:
    """Negative scale-invariant SDR in dB (Le Roux et al. 2019): ``(..., T) -> (...)``.

    ``−10 log10(‖αs‖² / (‖ŝ − αs‖² + eps) + eps)`` (``si_sdr_terms``): a silent estimate scores
    ``10 log10(1/eps)`` = 80 dB, the worst loss there is, so training never finds silence a way out.

    ``sdr_max`` (dB) caps it softly: ``10^(−sdr_max/10)‖αs‖²`` is added to ``‖ŝ − αs‖²``, so the loss
    stays above ``−sdr_max`` and examples already separated that well stop pulling.
    """
    return _out(_neg_si_sdr(_energies(est, ref, False, True), eps, sdr_max), est)


def neg_snr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Negative SNR in dB, ``10 log10(‖s‖² / ‖s − ŝ‖²)`` negated: ``(..., T) -> (...)``."""
    return _out(_neg_snr(_energies(est, ref, False, False), eps), est)


def neg_sd_sdr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Negative scale-dependent SDR in dB (Le Roux et al. 2019): ``(..., T) -> (...)``."""
    return _out(_neg_sd_sdr(_energies(est, ref, False, False), eps), est)


def thresholded_snr(est: torch.Tensor, ref: torch.Tensor, snr_max: float = 30.0, eps: float = EPS) -> torch.Tensor:
    """MixIT's soft-thresholded loss ``10 log10(‖s − ŝ‖² + τ‖s‖²)``, τ = 10^(−snr_max/10): ``(..., T) -> (...)``.

    As in the MixIT code the constant ``−10 log10 ‖s‖²`` is dropped, so an all-zero reference
    gives ``10 log10(‖ŝ‖² + eps)``, finite and pushing the estimate to silence.
    """
    return _out(_thresholded_snr(_energies(est, ref, False, False), snr_max, eps), est)


def pairwise_neg_si_sdr(
    est: torch.Tensor, ref: torch.Tensor, eps: float = EPS, sdr_max: float | None = None
) -> torch.Tensor:
    """Negative SI-SDR (capped as in ``neg_si_sdr``) of every estimate against every reference: ``(..., K, N)``."""
    return _out(_neg_si_sdr(_energies(est, ref, True, True), eps, sdr_max), est)


def pairwise_neg_snr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Negative SNR of every estimate against every reference: ``(..., K, T), (..., N, T) -> (..., K, N)``."""
    return _out(_neg_snr(_energies(est, ref, True, False), eps), est)


def pairwise_neg_sd_sdr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Negative SD-SDR of every estimate against every reference: ``(..., K, T), (..., N, T) -> (..., K, N)``."""
    return _out(_neg_sd_sdr(_energies(est, ref, True, False), eps), est)


def pairwise_thresholded_snr(
    est: torch.Tensor, ref: torch.Tensor, snr_max: float = 30.0, eps: float = EPS
) -> torch.Tensor:
    """Thresholded SNR loss of every estimate against every reference: ``(..., K, N)``."""
    return _out(_thresholded_snr(_energies(est, ref, True, False), snr_max, eps), est)

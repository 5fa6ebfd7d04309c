"""Mixture invariant training (Wisdom et al. 2020): the best remix of M outputs into N mixtures.

Each of the M estimated sources is assigned to exactly one of the N reference mixtures (a
mixture may get none), and the loss is the thresholded SNR of every mixture against the sum of
its outputs, averaged over the mixtures. The exact optimum over all N^M assignments is found
without remixing any waveform: for an assignment A (one-hot, M x N),

    ‖x_n − Σ_m A_mn ŝ_m‖² = ‖x_n‖² − 2 Σ_m A_mn ⟨ŝ_m, x_n⟩ + Σ_{m,m'} A_mn A_m'n ⟨ŝ_m, ŝ_m'⟩,

so the M×M Gram matrix of the estimates and their M×N inner products with the mixtures
(computed once, float64, no gradient) score every assignment in one einsum, at a cost that does
not depend on the signal length. Only the winner is remixed, and its loss is taken on the
actual signals, so gradients are exactly those of a brute-force search.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Literal

import torch

from sepkit.losses.criteria import EPS

MAX_ASSIGNMENTS = 1 << 20  # N^M above this: use fewer outputs (or an approximate search)
Weights = Literal["uniform", "magsq"]


@lru_cache(maxsize=32)
def _assignment_table(n_est: int, n_mix: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Every assignment of ``n_est`` outputs to ``n_mix`` mixtures: indices ``(P, M)`` and one-hot ``(P, M, N)``."""
    index = torch.tensor(list(itertools.product(range(n_mix), repeat=n_est)), dtype=torch.long, device=device)
    return index, torch.nn.functional.one_hot(index, n_mix).to(torch.float64)


def _candidates(
    n_est: int, n_mix: int, device: torch.device, allowed: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The assignment table, restricted to assignments that ``allowed`` ``(M, N)`` permits."""
    if n_mix**n_est > MAX_ASSIGNMENTS:
        raise ValueError(f"{n_mix}^{n_est} assignments is too many for an exact MixIT search")
    index, onehot = _assignment_table(n_est, n_mix, str(device))
    if allowed is None:
        return index, onehot
    allowed = torch.as_tensor(allowed, dtype=torch.bool, device=device)
    if allowed.shape != (n_est, n_mix):
        raise ValueError(f"allowed must be ({n_est}, {n_mix}) (outputs x mixtures), got {tuple(allowed.shape)}")
    keep = allowed[torch.arange(n_est, device=device), index].all(-1)
    if not bool(keep.any()):
        raise ValueError("allowed permits no assignment: every output needs at least one mixture")
    return index[keep], onehot[keep]


def mixit_assignment(
    est_sources: torch.Tensor,
    mixtures: torch.Tensor,
    *,
    snr_max: float = 30.0,
    eps: float = EPS,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """The mixture index ``(B, M)`` of every output under the best MixIT assignment (no gradient).

    ``allowed`` ``(M, N)`` bool, optional, restricts which mixtures each output may join (e.g.
    speech outputs only to the noisy-speech mixture when training an enhancer).
    """
    _check(est_sources, mixtures)
    n_est, n_mix = est_sources.shape[1], mixtures.shape[1]
    index, onehot = _candidates(n_est, n_mix, est_sources.device, allowed)
    tau = 10.0 ** (-snr_max / 10.0)
    with torch.no_grad(), torch.autocast(device_type=est_sources.device.type, enabled=False):
        est, mix = est_sources.detach().double(), mixtures.detach().double()
        gram = est @ est.transpose(1, 2)  # (B, M, M)  ⟨ŝ_m, ŝ_m'⟩
        cross = est @ mix.transpose(1, 2)  # (B, M, N)  ⟨ŝ_m, x_n⟩
        energy = (mix * mix).sum(-1)  # (B, N)     ‖x_n‖²
        remix_energy = torch.einsum("pmn,bmk,pkn->bpn", onehot, gram, onehot)
        error = energy[:, None] - 2 * torch.einsum("pmn,bmn->bpn", onehot, cross) + remix_energy
        score = 10 * torch.log10(error.clamp_min(0) + tau * energy[:, None] + eps).mean(-1)  # (B, P)
        return index[score.argmin(-1)]


def remix(est_sources: torch.Tensor, assignment: torch.Tensor, n_mix: int) -> torch.Tensor:
    """Sum outputs ``(B, M, T)`` into ``(B, N, T)`` mixtures by ``assignment`` ``(B, M)`` (differentiable)."""
    onehot = torch.nn.functional.one_hot(assignment, n_mix).to(est_sources.dtype)  # (B, M, N)
    return onehot.transpose(1, 2) @ est_sources


def mixit_loss(
    est_sources: torch.Tensor,
    mixtures: torch.Tensor,
    *,
    snr_max: float = 30.0,
    eps: float = EPS,
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MixIT loss ``(B,)`` and best remixes ``(B, N, T)`` of outputs ``(B, M, T)`` into mixtures ``(B, N, T)``.

    The per-mixture loss is the MixIT code's ``10 log10(‖x − x̂‖² + τ‖x‖²)``, τ = 10^(−snr_max/10)
    (the constant ``−10 log10 ‖x‖²`` dropped), averaged over the N mixtures: an all-zero mixture
    gives ``10 log10(‖x̂‖² + eps)``, finite, pushing its outputs to silence.
    """
    assignment = mixit_assignment(est_sources, mixtures, snr_max=snr_max, eps=eps, allowed=allowed)
    tau = 10.0 ** (-snr_max / 10.0)
    dtype = torch.promote_types(est_sources.dtype, torch.float32)  # half precision under autocast: float32
    with torch.autocast(device_type=est_sources.device.type, enabled=False):
        best = remix(est_sources.to(dtype), assignment, mixtures.shape[1])
        mix = mixtures.to(dtype)
        diff = mix - best  # squares of the signals' differences: sums of positive terms, nothing cancels
        error, energy = (diff * diff).sum(-1).double(), (mix * mix).sum(-1).double()
        loss = 10 * torch.log10(error + tau * energy + eps).mean(-1)
    return loss.to(dtype), best


def mixture_consistency(est: torch.Tensor, mixture: torch.Tensor, weights: Weights = "uniform") -> torch.Tensor:
    """Project outputs ``(B, M, T)`` so they sum to ``mixture`` ``(B, T)`` (Wisdom et al. 2019).

    ``ŝ_m + w_m (x − Σ_k ŝ_k)`` with ``w`` uniform (1/M) or proportional to each output's energy
    (``magsq``; uniform where all outputs are silent). Differentiable, for use on model outputs.
    """
    if mixture.dim() == est.dim():
        mixture = mixture.squeeze(1)
    residual = (mixture - est.sum(1)).unsqueeze(1)  # (B, 1, T)
    if weights == "uniform":
        return est + residual / est.shape[1]
    if weights == "magsq":
        energy = (est * est).sum(-1, keepdim=True)  # (B, M, 1)
        total = energy.sum(1, keepdim=True)
        w = torch.where(total > 0, energy / total.clamp_min(torch.finfo(est.dtype).tiny), 1.0 / est.shape[1])
        return est + w * residual
    raise ValueError(f"unknown mixture consistency weights {weights!r} (uniform, magsq)")


def _check(est: torch.Tensor, mix: torch.Tensor) -> None:
    if est.dim() != 3 or mix.dim() != 3:
        raise ValueError(
            f"mixit expects (B, M, T) outputs and (B, N, T) mixtures, got {tuple(est.shape)} and {tuple(mix.shape)}"
        )
    if est.shape[0] != mix.shape[0] or est.shape[-1] != mix.shape[-1]:
        raise ValueError(f"outputs {tuple(est.shape)} and mixtures {tuple(mix.shape)} differ in batch or length")
    if mix.shape[1] < 2:
        raise ValueError(f"mixit needs at least 2 mixtures, got {mix.shape[1]}")

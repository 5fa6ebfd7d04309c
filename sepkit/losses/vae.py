"""Losses of the CAE/MAE autoencoders (``docs/methods.md`` section 3): reconstruction, KL, silence and cycle terms.

The autoencoders are "VAEs" whose posterior has unit variance, N(z, I): the decoder sees z + ε
and the KL divergence to the N(0, I) prior is ½‖z‖² per element; the specification
(``docs/methods.md`` section 3) and the authors' code use mean(z²), the ½ folded into the term's
weight (``kl_unit_variance``). ``gaussian_kl`` is the general closed form, kept for checking that
relation.

Every term is a mean of squares over items (B, ...) and all their elements. An optional boolean
mask (B,) restricts the mean to some items (speech-containing or noise-only clips); a mask that
selects nothing gives 0, so a batch without such clips adds nothing, as in the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``values`` ``(B, ...)`` over the items where ``mask`` ``(B,)`` is true (0 when none is)."""
    if mask is None:
        return values.mean()
    weight = mask.to(values.dtype).reshape(-1, *[1] * (values.dim() - 1))
    count = mask.sum().to(values.dtype) * values[0].numel()
    return (values * weight).sum() / count.clamp_min(1)


def reconstruction_loss(est: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error ``‖est − ref‖²`` per element (compressed magnitudes, or latent codes)."""
    if est.shape != ref.shape:
        raise ValueError(f"shape mismatch: estimate {tuple(est.shape)}, reference {tuple(ref.shape)}")
    return masked_mean((est - ref).square(), mask)


def kl_unit_variance(z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The KL term of a posterior N(z, I) as ``docs/methods.md`` section 3 writes it: mean(z²), twice the exact KL."""
    return masked_mean(z.square(), mask)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor | None = None) -> torch.Tensor:
    """Exact KL(N(mu, exp(logvar)) ‖ N(0, 1)) per element, averaged: ½(mu² + σ² − log σ² − 1)."""
    if logvar is None:
        logvar = torch.zeros_like(mu)
    return (0.5 * (mu.square() + logvar.exp() - logvar - 1)).mean()


def silence_loss(est: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """mean(est²): pushes an output towards zero (the CAE decoder's output on noise-only clips)."""
    return masked_mean(est.square(), mask)


def moment_matching(z: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Squared gap between per-channel means and standard deviations of codes ``(B, C, frames)``.

    Not in the paper: it ties the distribution of one encoder's codes to another's (the MAE's
    to the frozen CAE's codes of unrelated clean speech) without pairing any clip. ``mask`` ``(B,)``
    keeps some of ``z``'s items; ``target`` is used whole. 0 when ``mask`` keeps nothing.
    """
    if mask is not None:
        if not bool(mask.any()):
            return z.sum() * 0.0
        z = z[mask]
    dims = (0, 2)
    mean_gap = z.mean(dims) - target.mean(dims)
    std_gap = z.std(dims) - target.std(dims)
    return (mean_gap.square() + std_gap.square()).mean()


@dataclass
class CycleTerms:
    """The three unweighted cycle-consistency terms of the MAE -> CAE -> MAE loop."""

    reconstruction: torch.Tensor  # ‖x̂_bab − x_b‖²: the noisy input comes back through both latent spaces
    latent: torch.Tensor  # ‖z_ba − z_b‖²: the CAE re-encodes the enhanced features to the same code
    kl: torch.Tensor  # mean(z_ba²): the re-encoded code stays near the prior


def cycle_terms(
    x_b: torch.Tensor, z_b: torch.Tensor, z_ba: torch.Tensor, x_bab: torch.Tensor, mask: torch.Tensor | None = None
) -> CycleTerms:
    """Cycle terms of features ``x_b``, ``z_b = E_B(x_b)``, ``z_ba = E_A(D_A(z_b+ε))``, ``x_bab = D_B(z_ba+ε')``."""
    return CycleTerms(
        reconstruction=reconstruction_loss(x_bab, x_b, mask),
        latent=reconstruction_loss(z_ba, z_b, mask),
        kl=kl_unit_variance(z_ba, mask),
    )

"""The contrastive-mixtures loss (Sivaraman & Kim 2020; JSTSP 2022), optionally purification-weighted.

For pairs of outputs y1 = f(x1), y2 = f(x2) with premixtures p1, p2 (the targets):

    L = ½[D(y1, p1) + D(y2, p2)] + λ_p·[positive]·D(y1, y2) + λ_n·[negative]·Φ(D(y1, y2), D(p1, p2))

Positive pairs share a premixture under two injected noises, so their outputs should agree;
negative pairs hold two premixtures under one injected noise, so their outputs should differ
as much as the premixtures do. ``Φ``: ``sq`` = (D(p1,p2) − D(y1,y2))² (the 2020 code; the
default), ``abs`` = |D(p1,p2) − D(y1,y2)|, ``max`` = max(0, D(y1,y2) − D(p1,p2)) (only pulls
outputs together). With purification weights w1, w2 (per frame): each signal term is weighted
with its own example's w, the positive term with w1, the negative terms with w1·w2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sepkit.losses.segmental import Distance, weighted_distance

PHI = ("sq", "abs", "max")


def contrast_penalty(outputs: torch.Tensor, premixtures: torch.Tensor, phi: str = "sq") -> torch.Tensor:
    """Φ of the outputs' distance against the premixtures' distance, elementwise."""
    if phi == "sq":
        return (premixtures - outputs).square()
    if phi == "abs":
        return (premixtures - outputs).abs()
    if phi == "max":
        return torch.relu(outputs - premixtures)
    raise ValueError(f"phi must be one of {', '.join(PHI)}, not {phi!r}")


@dataclass(frozen=True, kw_only=True)
class ContrastiveOptions:
    """The contrastive-mixtures loss apart from its inputs: the ``personalize:`` keys it reads, and the frames
    purification weights apply to (``weighted_distance``)."""

    distance: Distance  # D
    lambda_pos: float = 0.5  # weight of D(y1, y2) on positive pairs (2020 code)
    lambda_neg: float = 2e-4  # weight of Φ on negative pairs (2020 code)
    phi: str = "sq"  # sq | abs | max
    window: int = 1024  # frames of the purification weights, in samples
    hop: int = 256
    reduce: str = "frames"  # how weighted frames make one loss (``weighted_distance``)


def contrastive_mixtures_loss(
    y1: torch.Tensor,
    y2: torch.Tensor,
    p1: torch.Tensor,
    p2: torch.Tensor,
    positive: torch.Tensor,
    options: ContrastiveOptions,
    w1: torch.Tensor | None = None,
    w2: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Per-pair terms ``(B,)``: ``signal``, ``positive``, ``negative`` and their weighted sum ``loss``."""
    o = options
    weighted = w1 is not None and w2 is not None

    def dist(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        return weighted_distance(a, b, o.distance, w if weighted else None, o.window, o.hop, o.reduce)

    signal = 0.5 * (dist(y1, p1, w1) + dist(y2, p2, w2))
    pos = positive.to(signal.dtype)
    together = dist(y1, y2, w1) * pos
    w12 = w1 * w2 if weighted else None  # type: ignore[operator]
    apart = contrast_penalty(dist(y1, y2, w12), dist(p1, p2, w12).detach(), o.phi) * (1 - pos)
    return {
        "loss": signal + o.lambda_pos * together + o.lambda_neg * apart,
        "signal": signal,
        "positive": together,
        "negative": apart,
    }

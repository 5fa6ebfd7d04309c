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


def contrastive_mixtures_loss(
    y1: torch.Tensor,
    y2: torch.Tensor,
    p1: torch.Tensor,
    p2: torch.Tensor,
    positive: torch.Tensor,
    distance: Distance,
    lambda_pos: float = 0.5,
    lambda_neg: float = 2e-4,
    phi: str = "sq",
    w1: torch.Tensor | None = None,
    w2: torch.Tensor | None = None,
    window: int = 1024,
    hop: int = 256,
    reduce: str = "frames",
) -> dict[str, torch.Tensor]:
    """Per-pair terms ``(B,)``: ``signal``, ``positive``, ``negative`` and their weighted sum ``loss``."""
    weighted = w1 is not None and w2 is not None

    def dist(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        return weighted_distance(a, b, distance, w if weighted else None, window, hop, reduce)

    signal = 0.5 * (dist(y1, p1, w1) + dist(y2, p2, w2))
    pos = positive.to(signal.dtype)
    together = dist(y1, y2, w1) * pos
    w12 = w1 * w2 if weighted else None  # type: ignore[operator]
    apart = contrast_penalty(dist(y1, y2, w12), dist(p1, p2, w12).detach(), phi) * (1 - pos)
    return {
        "loss": signal + lambda_pos * together + lambda_neg * apart,
        "signal": signal,
        "positive": together,
        "negative": apart,
    }

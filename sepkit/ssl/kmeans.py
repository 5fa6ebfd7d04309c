"""A small vectorised k-means (k-means++ start, seeded) for HuBERT's cluster targets, on any torch device."""

from __future__ import annotations

import torch

CHUNK = 8192  # rows per distance block: bounds memory at CHUNK x k floats


def nearest(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index (N,) of the nearest centroid (squared Euclidean) of every row of ``x`` (N, D)."""
    c2 = centroids.square().sum(-1)
    out = [(c2 - 2 * block @ centroids.T).argmin(-1) for block in x.split(CHUNK)]  # |x|² is the same for every k
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` starting centroids: the first uniform, each next drawn ∝ its squared distance to those chosen."""
    first = torch.randint(x.shape[0], (1,), generator=generator).item()
    chosen = [x[first]]
    dist = (x - x[first]).square().sum(-1)
    for _ in range(1, k):
        weights = dist.double().cpu()
        pick = (
            torch.multinomial(weights / weights.sum(), 1, generator=generator).item()
            if weights.sum() > 0
            else torch.randint(x.shape[0], (1,), generator=generator).item()
        )
        chosen.append(x[pick])
        dist = torch.minimum(dist, (x - x[pick]).square().sum(-1))
    return torch.stack(chosen)


def kmeans(x: torch.Tensor, k: int, iterations: int = 50, seed: int = 0, tol: float = 1e-6) -> torch.Tensor:
    """Centroids (k, D) of ``x`` (N, D): Lloyd iterations from a k-means++ start; empty clusters stay put."""
    if x.dim() != 2 or x.shape[0] < k:
        raise ValueError(f"k-means needs at least k={k} rows of shape (N, D), got {tuple(x.shape)}")
    x = x.float()
    generator = torch.Generator().manual_seed(int(seed))
    centroids = kmeans_plus_plus(x, k, generator)
    for _ in range(iterations):
        labels = nearest(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)[:, None]
        updated = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        shift = (updated - centroids).square().sum() / centroids.square().sum().clamp(min=1e-12)
        centroids = updated
        if shift < tol:
            break
    return centroids

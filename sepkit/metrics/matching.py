"""Matching separated outputs to references: the assignment that maximises the mean of a metric.

The search is PIT's (``sepkit.losses.pit.best_assignment``: every assignment for up to four
estimates, the Hungarian algorithm above), run on the negated score matrix, so training,
inference and scoring match outputs to references in one way.
"""

from __future__ import annotations

import numpy as np
import torch

from sepkit.losses.pit import best_assignment
from sepkit.metrics.registry import METRICS


def pairwise_scores(
    ests: np.ndarray, refs: np.ndarray, metric: str = "si_sdr", sample_rate: int | None = None
) -> np.ndarray:
    """``(N, K)`` matrix of ``metric(ests[k], refs[n])`` for ``(K, [C,] T)`` estimates and ``(N, [C,] T)`` references.

    Channels, if present, are scored one by one and averaged.
    """
    e, r = np.asarray(ests), np.asarray(refs)
    if e.ndim not in (2, 3) or e.ndim != r.ndim:
        raise ValueError(f"expected (K, T) or (K, C, T) estimates and references, got {e.shape} and {r.shape}")
    if e.ndim == 2:
        e, r = e[:, None], r[:, None]
    if e.shape[1:-1] != r.shape[1:-1]:
        raise ValueError(f"estimates have {e.shape[1]} channels but references {r.shape[1]}")
    m = METRICS.get(metric)
    if m is None or not m.needs_ref or len(m.columns) != 1:
        raise ValueError(f"cannot match on {metric!r}: need a single-column metric with a reference")
    if sample_rate is None and metric not in ("si_sdr", "sdr"):
        raise ValueError(f"matching on {metric!r} needs the sample rate")

    def score(est: np.ndarray, ref: np.ndarray) -> float:
        return float(np.mean([m.compute(est[c], ref[c], sample_rate or 0)[metric] for c in range(est.shape[0])]))

    out = np.empty((r.shape[0], e.shape[0]))
    for n in range(r.shape[0]):
        for k in range(e.shape[0]):
            out[n, k] = score(e[k], r[n])
    return out


def best_permutation(
    ests: np.ndarray, refs: np.ndarray, metric: str = "si_sdr", sample_rate: int | None = None
) -> np.ndarray:
    """Estimate index for each reference maximising the mean ``metric``, so ``ests[perm]`` lines up with ``refs``.

    Needs ``K >= N``; a NaN score counts as the worst there is.
    """
    scores = pairwise_scores(ests, refs, metric, sample_rate)
    if scores.shape[1] < scores.shape[0]:
        raise ValueError(f"cannot match {scores.shape[0]} references with only {scores.shape[1]} estimates")
    scores = np.nan_to_num(scores, nan=-1e12, posinf=1e12, neginf=-1e12)
    cost = torch.from_numpy(-scores.T.copy())[None]  # (1, K, N): estimate k against reference n, lower is better
    return best_assignment(cost)[0].numpy()

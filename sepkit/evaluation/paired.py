"""Paired comparison of two systems scored on the same files: mean difference, bootstrap interval, win rate.

A mean over a test set hides how sure the difference between two systems is. Because both were
scored on the same files, the per-file differences carry the comparison: resampling files with
replacement gives a confidence interval for their mean, and the share of files where the first
system scores higher says whether a lead is broad or carried by a few files.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

RESAMPLES = 2000


def paired_difference(a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, level: float = 0.95,
                      seed: int = 0) -> dict[str, float]:
    """``a - b`` per file: its mean, a percentile-bootstrap interval at ``level``, the share of files with ``a > b``.

    Files where either value is NaN (a metric that could not be computed) are left out; ``files``
    says how many were used. Seeded, so the same scores always give the same interval.
    """
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "wins": float("nan"), "files": 0}
    rng = np.random.default_rng(seed)
    boots = np.empty(resamples)
    for start in range(0, resamples, 250):  # chunks bound memory on long test sets
        stop = min(start + 250, resamples)
        boots[start:stop] = x[rng.integers(0, x.size, (stop - start, x.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(boots, [tail, 1.0 - tail])
    return {"mean": float(x.mean()), "low": float(low), "high": float(high), "wins": float(np.mean(x > 0)),
            "files": int(x.size)}

"""Paired comparison of two systems scored on the same files: mean difference, bootstrap interval, win rate.

A mean over a test set hides how sure the difference between two systems is. Because both were
scored on the same files, the per-file differences carry the comparison: resampling files with
replacement (scipy's bootstrap) gives a confidence interval for their mean, and the share of
files where the first system scores higher says whether a lead is broad or carried by a few files.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import bootstrap

RESAMPLES = 2000


def paired_difference(
    a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, level: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """``a - b`` per file: its mean, a percentile-bootstrap interval at ``level``, the share of files with ``a > b``.

    Files where either value is NaN (a metric that could not be computed) are left out; ``files``
    says how many were used. Seeded, so the same scores always give the same interval.
    """
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "wins": float("nan"), "files": 0}
    if x.size == 1:  # nothing to resample
        return {"mean": float(x[0]), "low": float(x[0]), "high": float(x[0]), "wins": float(x[0] > 0), "files": 1}
    ci = bootstrap(
        (x,),
        np.mean,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        batch=250,
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return {
        "mean": float(x.mean()),
        "low": float(ci.low),
        "high": float(ci.high),
        "wins": float(np.mean(x > 0)),
        "files": int(x.size),
    }

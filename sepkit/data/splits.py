"""Deterministic group-disjoint splits: every file of a group (speaker, recording) lands in one split."""

from __future__ import annotations

import hashlib
from typing import Iterable


def split_groups(
    groups: Iterable[str], dev_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
) -> dict[str, str]:
    """Map each group to train/dev/test; order-independent, and dev/test get at least one group each
    when their fraction is positive and there are three groups or more."""
    if not (0 <= dev_fraction < 1 and 0 <= test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ValueError(
            f"dev_fraction {dev_fraction} and test_fraction {test_fraction} must be in [0, 1) and sum to less than 1"
        )
    keys = sorted(set(groups), key=lambda g: (_hash(g, seed), g))
    n = len(keys)
    n_test = _count(n, test_fraction)
    n_dev = _count(n, dev_fraction)
    if n_test + n_dev >= n:  # keep at least one training group
        n_test, n_dev = min(n_test, max(n - 1, 0)), max(0, min(n_dev, n - 1 - n_test))
    out = {k: "test" for k in keys[:n_test]}
    out.update({k: "dev" for k in keys[n_test : n_test + n_dev]})
    out.update({k: "train" for k in keys[n_test + n_dev :]})
    return out


def _count(n: int, fraction: float) -> int:
    if fraction <= 0 or n == 0:
        return 0
    return max(1, round(n * fraction)) if n >= 3 else 0


def _hash(key: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()

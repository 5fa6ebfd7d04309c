"""Permutation-invariant training: the best assignment of estimates to references.

Kept apart from the criteria: ``pit_loss`` takes any pairwise criterion returning
``(B, K, N)`` (estimate i against reference j at ``[b, i, j]``). Small problems are searched
exhaustively with one gather over a table of all assignments; larger ones use the Hungarian
algorithm on the detached matrix. Either way the loss is a gather from the pairwise matrix,
so gradients flow only through the chosen pairs.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sepkit.losses.criteria import Criterion, pairwise_neg_si_sdr

Solver = Literal["auto", "exhaustive", "hungarian"]
MAX_EXHAUSTIVE = 4  # exhaustive search for at most this many estimates (4! = 24 candidates)


@lru_cache(maxsize=None)
def assignment_table(n_est: int, n_ref: int) -> torch.Tensor:
    """All injective maps from references to estimates as a ``(P, n_ref)`` table, in ``itertools.permutations`` order."""
    return torch.tensor(list(itertools.permutations(range(n_est), n_ref)), dtype=torch.long)


def best_assignment(pw: torch.Tensor, solver: Solver = "auto") -> torch.Tensor:
    """Indices ``(B, N)``: which estimate goes to each reference, minimising the summed ``(B, K, N)`` losses."""
    batch, n_est, n_ref = pw.shape
    if n_est < n_ref:
        raise ValueError(f"cannot assign {n_ref} references to only {n_est} estimates")
    if solver == "auto":
        solver = "exhaustive" if n_est <= MAX_EXHAUSTIVE else "hungarian"
    if solver == "exhaustive":
        table = assignment_table(n_est, n_ref).to(pw.device)  # (P, N)
        cols = torch.arange(n_ref, device=pw.device)
        totals = pw.detach()[:, table, cols].sum(-1)  # (B, P)
        return table[totals.argmin(-1)]
    if solver == "hungarian":
        cost = pw.detach().transpose(1, 2).cpu().double().numpy()  # (B, N, K): rows are references
        perms = np.stack([linear_sum_assignment(c)[1] for c in cost])
        return torch.from_numpy(perms).to(device=pw.device, dtype=torch.long)
    raise ValueError(f"unknown PIT solver {solver!r} (auto, exhaustive, hungarian)")


def reorder(est: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Estimates ``(B, K, T)`` picked and ordered by ``perm`` ``(B, N)``, aligned to the references."""
    return torch.gather(est, 1, perm.unsqueeze(-1).expand(-1, -1, est.shape[-1]))


def pit_loss(
    est: torch.Tensor,
    ref: torch.Tensor,
    pairwise_criterion: Criterion = pairwise_neg_si_sdr,
    reduction: Literal["mean", "sum"] = "mean",
    solver: Solver = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss under the best assignment of ``est`` ``(B, K, T)`` to ``ref`` ``(B, N, T)``, K ≥ N.

    Returns the per-example loss ``(B,)`` (mean or sum over references) and the assignment
    ``(B, N)`` (estimate index per reference), so callers can reorder outputs or track how
    often the assignment of an utterance switches between epochs.
    """
    if est.dim() != 3 or ref.dim() != 3:
        raise ValueError(f"pit_loss expects (B, K, T) tensors, got {tuple(est.shape)} and {tuple(ref.shape)}")
    pw = pairwise_criterion(est, ref)
    perm = best_assignment(pw, solver)
    chosen = torch.gather(pw, 1, perm.unsqueeze(1)).squeeze(1)  # (B, N): pw[b, perm[b, j], j]
    if reduction == "mean":
        return chosen.mean(-1), perm
    if reduction == "sum":
        return chosen.sum(-1), perm
    raise ValueError(f"unknown reduction {reduction!r} (mean, sum)")

"""Sources from a network with spare outputs (MixIT): which of its M outputs make the K sources.

``pick_sources`` applies a model's ``source_outputs``: a fixed list, ``"loudest"`` (per chunk the K
outputs of most energy) or ``"balanced"``. A MixIT model often splits a source over two or more
outputs, so no choice of K single outputs holds the whole source; summing the outputs in K groups
does, and without references the grouping is taken whose group energies lie closest together
(largest over smallest), which favours sources of comparable level (``balanced_groups``).
"""

from __future__ import annotations

import functools

import torch

from sepkit.losses.pit import reorder
from sepkit.pretrained import BALANCED, LOUDEST


@functools.lru_cache(maxsize=None)
def partitions(n_outputs: int, n_groups: int) -> torch.Tensor:
    """Every way to split ``n_outputs`` outputs into ``n_groups`` non-empty groups, as 0/1 masks ``(P, n_groups, n_outputs)``.

    Groups are listed by their lowest output, so each split appears once.
    """
    if not 1 <= n_groups <= n_outputs:
        raise ValueError(f"cannot split {n_outputs} outputs into {n_groups} non-empty groups")
    found: list[list[list[int]]] = []

    def place(k: int, groups: list[list[int]]) -> None:
        if k == n_outputs:
            if len(groups) == n_groups:
                found.append([list(g) for g in groups])
            return
        if n_outputs - k < n_groups - len(groups):  # too few outputs left to open the missing groups
            return
        for group in groups:
            group.append(k)
            place(k + 1, groups)
            group.pop()
        if len(groups) < n_groups:
            place(k + 1, [*groups, [k]])

    place(0, [])
    masks = torch.zeros(len(found), n_groups, n_outputs)
    for p, groups in enumerate(found):
        for g, members in enumerate(groups):
            masks[p, g, members] = 1.0
    return masks


def balanced_groups(est: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Outputs ``(B, M, T)`` summed into ``(B, n_groups, T)``: per item the split whose group energies are most alike."""
    masks = partitions(est.shape[1], n_groups).to(est)  # (P, K, M)
    gram = torch.einsum("bmt,bnt->bmn", est, est)  # (B, M, M): a group's energy is mask . gram . mask
    energy = torch.einsum("pkm,bmn,pkn->bpk", masks, gram, masks).clamp_min(1e-12)  # (B, P, K)
    spread = energy.log().amax(-1) - energy.log().amin(-1)  # (B, P): log of largest over smallest
    chosen = masks[spread.argmin(1)]  # (B, K, M)
    return torch.einsum("bkm,bmt->bkt", chosen, est)


def pick_sources(est: torch.Tensor, picks: list[int] | str | None, n_sources: int) -> torch.Tensor:
    """The sources ``(B, K, T)`` of one batch of chunks' outputs ``(B, M, T)`` under a ``source_outputs`` choice.

    Rules work per chunk; the inference engine then keeps the sources in one order across chunks.
    """
    if picks == LOUDEST:
        return reorder(est, est.square().sum(-1).topk(n_sources, dim=1).indices.sort(1).values)
    if picks == BALANCED:
        return balanced_groups(est, n_sources)
    return est if picks is None else est[:, picks]

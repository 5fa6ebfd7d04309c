"""wav2vec 2.0's product quantiser: G codebooks of V entries, picked with a straight-through Gumbel-softmax.

Each frame's logits choose one entry per codebook (hard one-hot forward, soft gradient backward);
the chosen entries are concatenated. The diversity loss pushes the average softmax of every
codebook towards uniform use, so that all entries serve as targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

DIVERSITY_FORMS = ("perplexity", "entropy")


@dataclass
class Quantized:
    """A quantiser's output: the codes and what the diversity loss and logs need."""

    codes: torch.Tensor  # (N, code_dim): chosen entries, concatenated over codebooks
    avg_probs: torch.Tensor  # (G, V): softmax (no Gumbel noise) averaged over the N frames
    indices: torch.Tensor  # (N, G): chosen entry per codebook


class GumbelQuantizer(nn.Module):
    """Product quantiser with ``groups`` codebooks of ``entries`` vectors of ``code_dim / groups`` dims each."""

    def __init__(self, in_dim: int, groups: int = 2, entries: int = 320, code_dim: int = 256) -> None:
        super().__init__()
        if code_dim % groups:
            raise ValueError(f"code_dim ({code_dim}) must divide by groups ({groups})")
        self.groups, self.entries = int(groups), int(entries)
        self.logits = nn.Linear(in_dim, groups * entries)
        nn.init.normal_(self.logits.weight, std=1.0)
        nn.init.zeros_(self.logits.bias)
        self.codebook = nn.Parameter(torch.rand(groups, entries, code_dim // groups))

    def forward(self, x: torch.Tensor, tau: float) -> Quantized:
        """Quantise frames ``x`` (N, in_dim); Gumbel noise at temperature ``tau`` in training, argmax in eval."""
        logits = self.logits(x).float().view(-1, self.groups, self.entries)
        avg_probs = logits.softmax(-1).mean(0)
        if self.training:
            onehot = F.gumbel_softmax(logits, tau=tau, hard=True, dim=-1)
        else:
            onehot = F.one_hot(logits.argmax(-1), self.entries).to(logits.dtype)
        codes = torch.einsum("ngv,gvd->ngd", onehot, self.codebook.float()).flatten(1)
        return Quantized(codes.to(x.dtype), avg_probs, onehot.argmax(-1))


def diversity_loss(avg_probs: torch.Tensor, form: str = "perplexity") -> torch.Tensor:
    """Penalty on uneven codebook use, zero-or-minimal when every entry of every codebook is equally used.

    ``perplexity`` (the authors' code): (GV − Σ_g exp H(p̄_g)) / GV, 0 for uniform use, 1 − 1/V for one entry.
    ``entropy`` (the paper's formula): (1/GV) Σ_g Σ_v p̄ log p̄ = −Σ_g H(p̄_g) / GV, −log(V)/V if uniform.
    """
    groups, entries = avg_probs.shape
    entropy = -torch.special.xlogy(avg_probs, avg_probs).sum(-1)  # (G,)
    if form == "perplexity":
        return (groups * entries - entropy.exp().sum()) / (groups * entries)
    if form == "entropy":
        return -entropy.sum() / (groups * entries)
    raise ValueError(f"diversity form must be one of {', '.join(DIVERSITY_FORMS)}, not {form!r}")


def codebook_perplexity(avg_probs: torch.Tensor) -> torch.Tensor:
    """Σ_g exp H(p̄_g): how many entries are in use, summed over codebooks (G·V at most)."""
    return (-torch.special.xlogy(avg_probs, avg_probs).sum(-1)).exp().sum()


def gumbel_temperature(step: int, start: float = 2.0, end: float = 0.5, decay: float = 0.999995) -> float:
    """Temperature at optimiser step ``step``: ``start`` decayed geometrically per step, floored at ``end``."""
    return max(end, start * decay**step)

"""wav2vec 2.0's contrastive task: find the true quantised target among distractors from the same utterance.

Masked frames are handled as one flat list of N rows in row-major order of the (B, F) mask, so
a distractor is an index into that list: another masked step of the same utterance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_distractors(mask: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices (N, count) into the N masked rows: uniform draws (with replacement) among the other masked
    steps of each row's utterance; a row alone in its utterance gets itself (masked out later)."""
    per_item = mask.sum(1)  # (B,)
    first_row = per_item.cumsum(0) - per_item  # where each utterance's rows start in the flat list
    item = torch.nonzero(mask)[:, 0]  # (N,) utterance of every masked row
    rank = (mask.cumsum(1) - 1)[mask]  # (N,) position of the row among its utterance's masked steps
    others = (per_item[item] - 1).clamp(min=0)[:, None]
    draw = (torch.rand(item.shape[0], count, generator=generator).to(mask.device) * others).long()
    draw = draw + (draw >= rank[:, None]).long()  # skip the row itself
    draw = torch.minimum(draw, per_item[item][:, None] - 1)
    return first_row[item][:, None] + draw


def contrastive_logits(
    pred: torch.Tensor, targets: torch.Tensor, distractors: torch.Tensor, kappa: float = 0.1
) -> torch.Tensor:
    """Logits (N, 1 + K): cosine similarity / κ of each prediction to its target (column 0) and its distractors.

    ``pred``, ``targets`` (N, D); ``distractors`` (N, K) row indices into ``targets``. A distractor equal to
    the target (the same code) is no negative: its logit is −inf, as in the authors' code.
    """
    candidates = torch.cat([targets[:, None], targets[distractors]], 1)  # (N, 1 + K, D)
    logits = F.cosine_similarity(pred.float()[:, None], candidates.float(), dim=-1) / kappa
    same = (candidates[:, 1:] == candidates[:, :1]).all(-1)
    return torch.cat([logits[:, :1], logits[:, 1:].masked_fill(same, float("-inf"))], 1)


def contrastive_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of picking column 0 (the true target) from ``contrastive_logits``."""
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device))

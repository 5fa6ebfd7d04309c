"""The HuBERT objective (Hsu et al. 2021): predict the k-means cluster of every masked frame.

Logits are cosine similarities / κ between the projected last layer and one learned embedding
per cluster; the loss is the cross-entropy on masked frames only, plus the stem feature penalty.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.ssl.encoder import SslEncoder
from sepkit.ssl.masking import span_mask
from sepkit.ssl.targets import MFCC, ClusterTargets


class HubertObjective(nn.Module):
    """Cluster targets, the projection and the cluster embeddings HuBERT trains beside the encoder."""

    def __init__(
        self,
        encoder: SslEncoder,
        clusters: int = 100,
        targets: str = MFCC,
        layer: int = 6,
        final_dim: int = 256,
        kappa: float = 0.1,
        mask_prob: float = 0.8,
        mask_span: int = 10,
        penalty_weight: float = 10.0,
    ) -> None:
        super().__init__()
        self.targets = ClusterTargets(encoder, clusters, targets, layer)
        self.final_proj = nn.Linear(encoder.dim, final_dim)
        self.embeddings = nn.Parameter(torch.rand(clusters, final_dim))
        self.kappa, self.mask_prob, self.mask_span = float(kappa), float(mask_prob), int(mask_span)
        self.penalty_weight = float(penalty_weight)

    def fit_targets(self, wavs: Iterable[torch.Tensor], iterations: int, seed: int, max_frames: int) -> None:
        """Fit the k-means centroids (once, before training) on waveforms from the training set."""
        self.targets.fit(wavs, iterations, seed, max_frames)

    def forward(
        self, encoder: SslEncoder, wav: torch.Tensor, step: int = 0, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Loss terms and logs for a batch of waveforms (B, T)."""
        features = encoder.stem_features(wav)
        penalty = features.float().square().mean()
        batch, frames = features.shape[:2]
        labels = self.targets(wav, frames)
        mask = span_mask(batch, frames, self.mask_prob, self.mask_span, generator=generator, device=wav.device)
        pred = self.final_proj(encoder.context(features, mask)[-1][mask])
        logits = F.cosine_similarity(pred.float()[:, None], self.embeddings.float()[None], dim=-1) / self.kappa
        target = labels[mask]
        masked = F.cross_entropy(logits, target)
        return {
            "loss": masked + self.penalty_weight * penalty,
            "masked_ce": masked.detach(),
            "penalty": penalty.detach(),
            "accuracy": (logits.argmax(-1) == target).float().mean(),
            "masked": mask.float().mean(),
        }

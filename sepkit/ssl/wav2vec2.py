"""The wav2vec 2.0 objective (Baevski et al. 2020): contrastive prediction of quantised stem features at masked frames.

loss = contrastive + diversity_weight · diversity + penalty_weight · mean(stem features²). Targets
are the product-quantised, layer-normalised stem features of the masked frames (unmasked
input); predictions are the last layer's outputs there, both projected to ``final_dim``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sepkit.ssl.contrastive import contrastive_logits, contrastive_loss, sample_distractors
from sepkit.ssl.encoder import SslEncoder
from sepkit.ssl.masking import span_mask
from sepkit.ssl.quantizer import GumbelQuantizer, codebook_perplexity, diversity_loss, gumbel_temperature


class Wav2Vec2Objective(nn.Module):
    """The heads wav2vec 2.0 trains beside the encoder (quantiser and projections) and its loss."""

    def __init__(
        self,
        encoder: SslEncoder,
        codebooks: int = 2,
        entries: int = 320,
        final_dim: int = 256,
        distractors: int = 100,
        kappa: float = 0.1,
        mask_prob: float = 0.65,
        mask_span: int = 10,
        diversity_weight: float = 0.1,
        penalty_weight: float = 10.0,
        diversity: str = "perplexity",
        temperature: tuple[float, float, float] = (2.0, 0.5, 0.999995),
    ) -> None:
        super().__init__()
        self.quantizer = GumbelQuantizer(encoder.stem_dim, codebooks, entries, final_dim)
        self.project_q = nn.Linear(final_dim, final_dim)
        self.final_proj = nn.Linear(encoder.dim, final_dim)
        self.distractors, self.kappa = int(distractors), float(kappa)
        self.mask_prob, self.mask_span = float(mask_prob), int(mask_span)
        self.diversity_weight, self.penalty_weight = float(diversity_weight), float(penalty_weight)
        self.diversity = diversity
        self.temperature = tuple(float(t) for t in temperature)
        diversity_loss(torch.full((1, 2), 0.5), diversity)  # an unknown form fails here, not mid-training

    def forward(
        self, encoder: SslEncoder, wav: torch.Tensor, step: int = 0, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Loss terms and logs for a batch of waveforms (B, T) at optimiser step ``step``."""
        features = encoder.stem_features(wav)
        penalty = features.float().square().mean()
        batch, frames = features.shape[:2]
        mask = span_mask(
            batch, frames, self.mask_prob, self.mask_span, min_spans=1, generator=generator, device=wav.device
        )
        pred = self.final_proj(encoder.context(features, mask)[-1][mask])
        tau = gumbel_temperature(step, *self.temperature)
        quantized = self.quantizer(encoder.normalized_stem(features)[mask], tau)
        targets = self.project_q(quantized.codes)
        logits = contrastive_logits(pred, targets, sample_distractors(mask, self.distractors, generator), self.kappa)
        contrastive = contrastive_loss(logits)
        diversity = diversity_loss(quantized.avg_probs, self.diversity)
        loss = contrastive + self.diversity_weight * diversity + self.penalty_weight * penalty
        return {
            "loss": loss,
            "contrastive": contrastive.detach(),
            "diversity": diversity.detach(),
            "penalty": penalty.detach(),
            "accuracy": (logits.argmax(-1) == 0).float().mean(),
            "perplexity": codebook_perplexity(quantized.avg_probs).detach(),
            "temperature": torch.tensor(tau, device=wav.device),
            "masked": mask.float().mean(),
        }

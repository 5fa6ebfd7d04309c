"""The TERA objective (Liu et al. 2021): reconstruct the log-mel spectrogram from an altered copy, L1 loss.

Alterations, drawn per utterance: time (spans of ``time_span`` frames over about ``time_prob``
of the frames set to zero, the per-bin mean), frequency (one band of up to ``freq_max`` of the
bins set to zero) and magnitude (Gaussian noise of std ``noise_std`` added everywhere, with
probability ``noise_prob``). The L1 loss is taken where the input was altered: masked frames,
masked bins, and every frame of an utterance that got noise. Needs an encoder with a log-mel stem.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sepkit.ssl.encoder import SslEncoder
from sepkit.ssl.masking import band_mask, span_mask
from sepkit.ssl.stems import LogMelStem


def tera_alter(
    features: torch.Tensor,
    time_prob: float = 0.15,
    time_span: int = 7,
    freq_max: float = 0.2,
    noise_prob: float = 0.15,
    noise_std: float = 0.2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The altered copy of ``features`` (B, F, M) and the boolean (B, F, M) map of what was altered."""
    batch, frames, bins = features.shape
    device = features.device
    time = span_mask(batch, frames, time_prob, time_span, generator=generator, device=device)[:, :, None]
    freq = band_mask(batch, bins, freq_max, generator=generator, device=device)[:, None, :]
    noisy = (torch.rand(batch, generator=generator) < noise_prob).to(device)[:, None, None]
    altered = features.masked_fill(time | freq, 0.0)
    noise = torch.randn(features.shape, generator=generator).to(device=device, dtype=features.dtype) * noise_std
    altered = torch.where(noisy, altered + noise, altered)
    return altered, time | freq | noisy


class TeraObjective(nn.Module):
    """TERA's prediction head (dense, GELU, layer norm, dense back to the mel bins) and its loss."""

    def __init__(
        self,
        encoder: SslEncoder,
        time_prob: float = 0.15,
        time_span: int = 7,
        freq_max: float = 0.2,
        noise_prob: float = 0.15,
        noise_std: float = 0.2,
    ) -> None:
        super().__init__()
        if not isinstance(getattr(encoder, "stem", None), LogMelStem):
            raise ValueError("the tera objective needs an encoder with stem: logmel (it reconstructs log-mel frames)")
        # TERA alters its input instead of masking frames: the mask embedding stays out of training (DDP wants
        # every trainable parameter used).
        encoder.mask_embedding.requires_grad_(False)
        self.head = nn.Sequential(
            nn.Linear(encoder.dim, encoder.dim),
            nn.GELU(),
            nn.LayerNorm(encoder.dim),
            nn.Linear(encoder.dim, encoder.stem_dim),
        )
        self.alter = {
            "time_prob": float(time_prob),
            "time_span": int(time_span),
            "freq_max": float(freq_max),
            "noise_prob": float(noise_prob),
            "noise_std": float(noise_std),
        }

    def forward(
        self, encoder: SslEncoder, wav: torch.Tensor, step: int = 0, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Loss and logs for a batch of waveforms (B, T)."""
        target = encoder.stem_features(wav)
        altered, where = tera_alter(target, generator=generator, **self.alter)
        pred = self.head(encoder.context(altered)[-1]).float()
        error = (pred - target.float()).abs()
        loss = error[where].mean() if where.any() else error.mean()
        return {"loss": loss, "l1_all": error.mean().detach(), "altered": where.float().mean()}

"""SepFormer (Subakan et al. 2021) assembled from speechbrain's dual-path building blocks.

Built from its configuration (no download); the defaults are speechbrain's WSJ0-2mix recipe
(256 filters, kernel 16, 2 dual-path blocks of 8+8 Transformer layers, chunks of 250 frames,
no dropout) except the sample rate: sepkit's 16 kHz rather than WSJ0-2mix's 8 kHz.
Submodule names follow speechbrain's checkpoints (encoder, masknet, decoder).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sepkit.errors import ModelError
from sepkit.models.base import fit_length
from sepkit.models.registry import register_model


@register_model("sepformer")
class SepFormer(nn.Module):
    """Learned encoder -> dual-path Transformer masker -> learned decoder, ``(B, T) -> (B, n_src, T)``."""

    def __init__(
        self,
        n_src: int = 2,
        sample_rate: int = 16000,
        n_filters: int = 256,
        kernel_size: int = 16,
        n_blocks: int = 2,
        n_layers: int = 8,
        n_heads: int = 8,
        d_ffn: int = 1024,
        chunk_size: int = 250,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if n_filters % n_heads:
            raise ModelError(f"sepformer: n_filters ({n_filters}) must be a multiple of n_heads ({n_heads})")
        from speechbrain.lobes.models.dual_path import Decoder, Dual_Path_Model, Encoder, SBTransformerBlock

        self.sample_rate = int(sample_rate)
        self.n_src = int(n_src)

        def transformer() -> nn.Module:
            return SBTransformerBlock(
                num_layers=n_layers,
                d_model=n_filters,
                nhead=n_heads,
                d_ffn=d_ffn,
                dropout=dropout,
                use_positional_encoding=True,
                norm_before=True,
            )

        self.encoder = Encoder(kernel_size=kernel_size, out_channels=n_filters, in_channels=1)
        self.masknet = Dual_Path_Model(
            in_channels=n_filters,
            out_channels=n_filters,
            intra_model=transformer(),
            inter_model=transformer(),
            num_layers=n_blocks,
            norm="ln",
            K=chunk_size,
            num_spks=n_src,
            skip_around_intra=True,
            linear_layer_after_inter_intra=False,
        )
        self.decoder = Decoder(
            in_channels=n_filters, out_channels=1, kernel_size=kernel_size, stride=kernel_size // 2, bias=False
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate ``(B, T)`` mixtures into ``(B, n_src, T)`` estimates."""
        feats = self.encoder(wav)  # (B, N, L)
        masks = self.masknet(feats)  # (n_src, B, N, L)
        batch = wav.shape[0]
        # decode all sources in one call; speechbrain's Decoder squeezes its channel axis
        est = self.decoder((masks * feats).flatten(0, 1)).reshape(self.n_src, batch, -1)
        return fit_length(est.transpose(0, 1), wav.shape[-1])

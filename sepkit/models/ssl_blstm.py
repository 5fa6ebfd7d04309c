"""SUPERB's enhancement/separation head on an SSL encoder: BLSTM predicting STFT magnitude masks.

SSL features (a learned mix of layers by default, SUPERB's setting with a frozen encoder) on the
STFT frames -> 3-layer BLSTM (896 units) -> one sigmoid mask per source and bin -> masked
mixture STFT with its phase -> iSTFT. ``spectrum: true`` also feeds log |STFT| to the BLSTM (a
fused variant). The hop defaults to the encoder's, so STFT and SSL frames coincide.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from sepkit.audio.stft import add_window, istft, stft
from sepkit.models.registry import register_model
from sepkit.ssl.frontend import SslFrontEnd, portable_encoder_args
from sepkit.ssl.load import EncoderSpec


@register_model("ssl_blstm")
class SslBlstm(nn.Module):
    """SSL features -> BLSTM -> STFT masks; ``(B, T) -> (B, n_src, T)``."""

    def __init__(
        self,
        encoder: EncoderSpec,
        n_src: int = 1,
        sample_rate: int = 16000,
        encoder_mode: str = "frozen",
        layer: int | None = None,
        n_fft: int = 512,
        hop: int | None = None,
        hidden: int = 896,
        layers: int = 3,
        dropout: float = 0.1,
        spectrum: bool = False,
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_src, self.spectrum = int(sample_rate), int(n_src), bool(spectrum)
        self.frontend = SslFrontEnd(encoder, sample_rate, encoder_mode, layer)
        self.n_fft, self.hop = int(n_fft), int(hop or self.frontend.encoder.hop)
        add_window(self, self.n_fft, "hann")
        bins = self.n_fft // 2 + 1
        self.blstm = nn.LSTM(
            self.frontend.dim + (bins if spectrum else 0),
            hidden,
            layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.mask = nn.Linear(2 * hidden, n_src * bins)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate or enhance ``(B, T)`` into ``(B, n_src, T)``."""
        spec = stft(wav.float(), self.n_fft, self.hop, self.window, pad_mode="reflect")  # (B, bins, F)
        feats = self.frontend(wav, spec.shape[-1], self.hop, 0.0)  # centred STFT: frame j at hop * j
        if self.spectrum:
            feats = torch.cat([feats, torch.log(spec.abs() + 1e-6).to(feats.dtype)], 1)
        hidden, _ = self.blstm(feats.transpose(1, 2))
        masks = torch.sigmoid(self.mask(hidden)).view(wav.shape[0], spec.shape[-1], self.n_src, -1)
        est = masks.permute(0, 2, 3, 1) * spec[:, None]  # (B, n_src, bins, F)
        return istft(est, self.n_fft, self.hop, self.window, wav.shape[-1]).to(wav.dtype)

    def export_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Build arguments for ``config.json``: the encoder by shape, not by a path that may not exist elsewhere."""
        return portable_encoder_args(args, self.frontend)

"""A learned-filterbank masker conditioned on SSL features: ``(B, T) -> (B, n_src, T)``.

Free filterbank encoder (Conv-TasNet's: learned basis, ReLU) -> concatenation with the SSL front
end's features (one layer or a learned mix, projected and put on the filterbank's frames) ->
asteroid's TDConvNet masker -> masks on the filterbank representation -> learned decoder. The
SSL branch conditions the masker; the waveform path is the separator's own, as ``docs/methods.md``
section 6 describes. With ``rescale`` the sources get one least-squares gain that makes them sum to the
mixture: trained on SI-SDR alone, the shipped ``separate-ssl`` otherwise comes out ~19 dB too loud and
inverted.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from sepkit.models.base import fit_length, match_mixture_gain
from sepkit.models.registry import register_model
from sepkit.ssl.frontend import SslFrontEnd, portable_encoder_args
from sepkit.ssl.load import EncoderSpec


@register_model("ssl_masker")
class SslMasker(nn.Module):
    """Filterbank + TDConvNet masker with an SSL feature branch; ``encoder`` is an exported SSL directory."""

    def __init__(
        self,
        encoder: EncoderSpec,
        n_src: int = 2,
        sample_rate: int = 16000,
        encoder_mode: str = "frozen",
        layer: int | None = None,
        n_filters: int = 256,
        kernel_size: int = 32,
        stride: int | None = None,
        ssl_channels: int = 128,
        n_blocks: int = 8,
        n_repeats: int = 3,
        bn_chan: int = 128,
        hid_chan: int = 256,
        skip_chan: int = 128,
        mask_act: str = "relu",
        rescale: bool = False,
    ) -> None:
        super().__init__()
        from asteroid.masknn import TDConvNet
        from asteroid_filterbanks import make_enc_dec

        self.sample_rate, self.n_src, self.rescale = int(sample_rate), int(n_src), bool(rescale)
        self.kernel_size, self.stride = int(kernel_size), int(stride or kernel_size // 2)
        self.frontend = SslFrontEnd(encoder, sample_rate, encoder_mode, layer)
        self.fb_encoder, self.fb_decoder = make_enc_dec(
            "free", n_filters=n_filters, kernel_size=self.kernel_size, stride=self.stride, sample_rate=sample_rate
        )
        self.ssl_proj = nn.Conv1d(self.frontend.dim, ssl_channels, 1)
        self.masker = TDConvNet(
            n_filters + ssl_channels,
            n_src,
            out_chan=n_filters,
            n_blocks=n_blocks,
            n_repeats=n_repeats,
            bn_chan=bn_chan,
            hid_chan=hid_chan,
            skip_chan=skip_chan,
            mask_act=mask_act,
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate ``(B, T)`` mixtures into ``(B, n_src, T)`` estimates."""
        tf = torch.relu(self.fb_encoder(wav[:, None]))  # (B, N, F)
        ssl = self.frontend(wav, tf.shape[-1], self.stride, self.kernel_size / 2)
        masks = self.masker(torch.cat([tf, self.ssl_proj(ssl)], 1))  # (B, n_src, N, F)
        est = fit_length(self.fb_decoder(masks * tf[:, None]), wav.shape[-1])
        return match_mixture_gain(est, wav) if self.rescale else est

    def export_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Build arguments for ``config.json``: the encoder by shape, not by a path that may not exist elsewhere."""
        return portable_encoder_args(args, self.frontend)

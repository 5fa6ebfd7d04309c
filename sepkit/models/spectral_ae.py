"""Spectral autoencoders for CAE/MAE: 1-D CNNs over time with the frequency bins as channels.

Every layer is Conv1d (odd kernel, 'same' padding, stride 1) -> BatchNorm -> Softplus. Encoder
layers also divide their output by its mean over time (per channel), so the latent code says
what the spectrum looks like and not how loud it is. Decoder layers are not normalised: the
decoder has to give back magnitudes. The decoder mirrors the encoder's widths. Both
autoencoders of CAE/MAE are built from this one class; only the widths differ.

``time_norm="none"`` leaves the encoder's time-mean divisions out: the division also throws away each
channel's long-term average (the spectral envelope's mean shape), which the decoder then has to guess;
with the level handled outside the autoencoders (``CaeMae(level="utterance")``) it is not needed for
level invariance.

``separable=True`` factors each convolution into a depthwise one over time (one filter per input
channel) and a 1x1 mix across channels: about ``kernel_size`` times fewer multiplications, for
CPU-sized networks (the paper's layers are full convolutions).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.errors import ModelError

TIME_MEAN_FLOOR = 1e-8  # keeps the per-layer division finite on an all-zero input
TIME_NORMS = ("layer", "none")  # encoder layers divided by their time mean (the paper), or not


class ConvLayer(nn.Module):
    """Conv1d (full, or depthwise then 1x1) -> BatchNorm -> Softplus, optionally divided by its mean over time."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, normalise_time: bool, separable: bool = False) -> None:
        super().__init__()
        self.depthwise = (
            nn.Conv1d(n_in, n_in, kernel_size, padding=kernel_size // 2, groups=n_in, bias=False) if separable else None
        )
        self.conv = nn.Conv1d(
            n_in, n_out, 1 if separable else kernel_size, padding=0 if separable else kernel_size // 2
        )
        self.norm = nn.BatchNorm1d(n_out)
        self.normalise_time = normalise_time

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_in, frames)`` -> ``(B, n_out, frames)``, positive."""
        if self.depthwise is not None:
            x = self.depthwise(x)
        y = F.softplus(self.norm(self.conv(x)))
        if self.normalise_time:
            y = y / (y.mean(-1, keepdim=True) + TIME_MEAN_FLOOR)
        return y


def conv_stack(widths: Sequence[int], kernel_size: int, normalise_time: bool, separable: bool = False) -> nn.Sequential:
    """Layers ``widths[0] -> widths[1] -> ... -> widths[-1]``."""
    return nn.Sequential(
        *[ConvLayer(a, b, kernel_size, normalise_time, separable) for a, b in zip(widths[:-1], widths[1:])]
    )


class SpectralAutoencoder(nn.Module):
    """Encoder ``n_freqs -> dims[0] -> ... -> dims[-1]`` (the latent width) and its mirror-image decoder."""

    def __init__(
        self,
        n_freqs: int,
        dims: Sequence[int],
        kernel_size: int = 7,
        separable: bool = False,
        time_norm: str = "layer",
    ) -> None:
        super().__init__()
        dims = [int(d) for d in dims]
        if n_freqs <= 0 or not dims or any(d <= 0 for d in dims):
            raise ModelError(f"spectral autoencoder: widths must be positive, got n_freqs={n_freqs}, dims={dims}")
        if kernel_size <= 0 or kernel_size % 2 == 0:
            raise ModelError(f"spectral autoencoder: kernel_size must be odd and positive, not {kernel_size}")
        if time_norm not in TIME_NORMS:
            raise ModelError(
                f"spectral autoencoder: time_norm must be one of {', '.join(TIME_NORMS)}, not {time_norm!r}"
            )
        normalise = time_norm == "layer"
        self.encoder = conv_stack([n_freqs, *dims], kernel_size, normalise_time=normalise, separable=separable)
        self.decoder = conv_stack([*reversed(dims), n_freqs], kernel_size, normalise_time=False, separable=separable)
        self.latent_dim = dims[-1]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``(B, n_freqs, frames)`` features through the latent code (no latent noise)."""
        return self.decoder(self.encoder(features))

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

``decoder_output`` is the decoder's last layer, the one that gives back the features: ``"layer"`` (the paper)
Conv -> BatchNorm -> Softplus like every other layer, so the output's spread over batch and time is set by
BatchNorm's scale alone and starts at 1 whatever the features' (Adam moves that one weight by about the
learning rate a step); ``"softplus"`` drops the BatchNorm (Conv -> Softplus: still positive, the convolution
sets the scale); ``"linear"`` is the plain convolution (resynthesis clips negative magnitudes to 0).
``encoder_output`` is the same choice for the encoder's last layer, the latent code: with BatchNorm the
code's spread is BatchNorm's scale, about 1 for many steps, as large as the unit latent noise the decoders
see in training; without it the encoder can make its code larger than the noise (the KL term's weight
prices that). ``"linear"`` codes can be negative, so it needs ``time_norm="none"``.

``encoder_gru=N`` (0: off, the paper) ends each encoder with a unidirectional GRU of N units over the code
sequence whose output, projected back to the latent width, is added to the code (``GruRefine``): the
convolutions see ``kernel_size`` frames per layer, the GRU the whole past, which a noisy input's encoder needs
to tell speech from noise (not in the paper; needs ``time_norm="none"``, as the sum can be negative).

``separable=True`` factors each convolution into a depthwise one over time (one filter per input
channel) and a 1x1 mix across channels: about ``kernel_size`` times fewer multiplications, for
CPU-sized networks (the paper's layers are full convolutions). ``depthwise_init="identity"`` starts every
depthwise filter as the identity (1 at the centre tap, 0 elsewhere) instead of PyTorch's random filter
(taps uniform in ±1/sqrt(kernel_size)), which at the start gives each channel a random gain, some near 0,
and smears it over time, in every layer; training starts from the 1x1 network and learns the filters.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.errors import ModelError

TIME_MEAN_FLOOR = 1e-8  # keeps the per-layer division finite on an all-zero input
TIME_NORMS = ("layer", "none")  # encoder layers divided by their time mean (the paper), or not
# separable layers' depthwise filters at the start: PyTorch's random init, or the identity
DEPTHWISE_INITS = ("default", "identity")
# an encoder's or decoder's last layer: Conv-BN-Softplus (the paper), Conv-Softplus, Conv
OUTPUT_LAYERS = ("layer", "softplus", "linear")


class ConvLayer(nn.Module):
    """Conv1d (full, or depthwise then 1x1) -> BatchNorm -> Softplus, optionally divided by its mean over time.

    ``batch_norm=False`` leaves the BatchNorm out, ``softplus=False`` the Softplus (an output layer);
    ``identity_init=True`` starts the depthwise filter as the identity.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        kernel_size: int,
        normalise_time: bool,
        separable: bool = False,
        batch_norm: bool = True,
        softplus: bool = True,
        identity_init: bool = False,
    ) -> None:
        super().__init__()
        self.depthwise = (
            nn.Conv1d(n_in, n_in, kernel_size, padding=kernel_size // 2, groups=n_in, bias=False) if separable else None
        )
        if identity_init and self.depthwise is not None:
            nn.init.dirac_(self.depthwise.weight, groups=n_in)  # 1 at the centre tap of each channel's filter
        self.conv = nn.Conv1d(
            n_in, n_out, 1 if separable else kernel_size, padding=0 if separable else kernel_size // 2
        )
        self.norm = nn.BatchNorm1d(n_out) if batch_norm else None
        self.softplus = softplus
        self.normalise_time = normalise_time

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_in, frames)`` -> ``(B, n_out, frames)``, positive (unless ``softplus=False``)."""
        if self.depthwise is not None:
            x = self.depthwise(x)
        y = self.conv(x)
        if self.norm is not None:
            y = self.norm(y)
        if self.softplus:
            y = F.softplus(y)
        if self.normalise_time:
            y = y / (y.mean(-1, keepdim=True) + TIME_MEAN_FLOOR)
        return y


def conv_stack(
    widths: Sequence[int],
    kernel_size: int,
    normalise_time: bool,
    separable: bool = False,
    output: str = "layer",
    identity_init: bool = False,
) -> nn.Sequential:
    """Layers ``widths[0] -> widths[1] -> ... -> widths[-1]``; the last one as ``output`` (``OUTPUT_LAYERS``)."""
    pairs = list(zip(widths[:-1], widths[1:]))
    last = len(pairs) - 1
    return nn.Sequential(
        *[
            ConvLayer(
                a,
                b,
                kernel_size,
                normalise_time,
                separable,
                batch_norm=i < last or output == "layer",
                softplus=i < last or output != "linear",
                identity_init=identity_init,
            )
            for i, (a, b) in enumerate(pairs)
        ]
    )


class GruRefine(nn.Module):
    """``code + W·GRU(code)``: a recurrent correction of a ``(B, width, frames)`` code, zero at the start."""

    def __init__(self, width: int, units: int) -> None:
        super().__init__()
        self.gru = nn.GRU(width, units, batch_first=True)
        self.project = nn.Linear(units, width)
        nn.init.zeros_(self.project.weight)  # the encoder starts as its convolutions alone
        nn.init.zeros_(self.project.bias)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        """``(B, width, frames)`` -> the same shape."""
        out, _ = self.gru(code.transpose(1, 2))
        return code + self.project(out).transpose(1, 2)


class SpectralAutoencoder(nn.Module):
    """Encoder ``n_freqs -> dims[0] -> ... -> dims[-1]`` (the latent width) and its mirror-image decoder."""

    def __init__(
        self,
        n_freqs: int,
        dims: Sequence[int],
        kernel_size: int = 7,
        separable: bool = False,
        time_norm: str = "layer",
        decoder_output: str = "layer",
        encoder_output: str = "layer",
        depthwise_init: str = "default",
        encoder_gru: int = 0,
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
        for name, value in (("decoder_output", decoder_output), ("encoder_output", encoder_output)):
            if value not in OUTPUT_LAYERS:
                raise ModelError(
                    f"spectral autoencoder: {name} must be one of {', '.join(OUTPUT_LAYERS)}, not {value!r}"
                )
        if depthwise_init not in DEPTHWISE_INITS:
            raise ModelError(
                f"spectral autoencoder: depthwise_init must be one of {', '.join(DEPTHWISE_INITS)}, "
                f"not {depthwise_init!r}"
            )
        if depthwise_init != "default" and not separable:
            raise ModelError("spectral autoencoder: depthwise_init identity needs separable true")
        if encoder_output == "linear" and time_norm == "layer":
            raise ModelError(
                "spectral autoencoder: encoder_output linear needs time_norm none (a code that can be "
                "negative cannot be divided by its time mean)"
            )
        if encoder_gru < 0 or (encoder_gru and time_norm == "layer"):
            raise ModelError(
                f"spectral autoencoder: encoder_gru must be 0 or a positive unit count, with time_norm none "
                f"(got {encoder_gru} with time_norm {time_norm})"
            )
        normalise, identity = time_norm == "layer", depthwise_init == "identity"
        self.encoder = conv_stack([n_freqs, *dims], kernel_size, normalise, separable, encoder_output, identity)
        if encoder_gru:
            self.encoder.append(GruRefine(dims[-1], int(encoder_gru)))
        self.decoder = conv_stack([*reversed(dims), n_freqs], kernel_size, False, separable, decoder_output, identity)
        self.latent_dim = dims[-1]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``(B, n_freqs, frames)`` features through the latent code (no latent noise)."""
        return self.decoder(self.encoder(features))

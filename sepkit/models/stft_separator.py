"""StftSeparator: a BLSTM mask separator on the STFT, trained end-to-end through the iSTFT (uPIT on SI-SDR).

STFT (sqrt-Hann, 32 ms window, 8 ms hop at 16 kHz) -> ``log1p(|X| / s)`` with ``s`` the RMS of
``|X|`` over the whole input (so a gain on the input changes nothing, and a chunk of a few seconds
sees nearly the statistics of its file) and a learnable affine per bin -> bidirectional LSTM
layers -> one mask per source and bin: complex (tanh-bounded magnitude, phase learned) or a
magnitude in ``[0, mask_max]`` on the mixture phase -> iSTFT. Frame rate, not parameter count,
sets the cost on a CPU, which is why this trains ~10x faster per audio-second than a 1 ms-hop
Conv-TasNet (``benchmarks/separator_speed.py`` measures both).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn

from sepkit.audio.stft import add_window, istft, stft
from sepkit.errors import ModelError
from sepkit.models.filter_enhancer import bounded_complex
from sepkit.models.registry import register_model
from sepkit.models.widening import grow_gated, grow_readout, load_grown, old_unit_places

MaskKind = Literal["complex", "magnitude"]
_SCALE_FLOOR = 1e-6  # keeps the normalisation finite on digital silence


@register_model("stft_separator")
class StftSeparator(nn.Module):
    """BLSTM masks on a normalised log-magnitude STFT; ``(B, T) -> (B, n_src, T)``, ~4.7 M parameters by default."""

    causal = False

    def __init__(
        self,
        n_src: int = 2,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop: int = 128,
        hidden: int = 256,
        layers: int = 3,
        mask: MaskKind = "complex",
        mask_max: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if mask not in ("complex", "magnitude"):
            raise ModelError(f"stft_separator: mask must be 'complex' or 'magnitude', not {mask!r}")
        if not (n_src >= 1 and n_fft > 0 and 0 < hop <= n_fft // 2 and hidden > 0 and layers > 0 and mask_max > 0):
            raise ModelError("stft_separator: need n_src, n_fft, hidden, layers, mask_max > 0 and 0 < hop <= n_fft/2")
        self.n_src, self.sample_rate, self.n_fft, self.hop = int(n_src), int(sample_rate), int(n_fft), int(hop)
        self.mask, self.mask_max = mask, float(mask_max)
        self.n_freqs = n_fft // 2 + 1
        add_window(self, n_fft, "sqrt_hann")
        self.feat_scale = nn.Parameter(torch.ones(self.n_freqs))
        self.feat_bias = nn.Parameter(torch.zeros(self.n_freqs))
        self.blstm = nn.LSTM(
            self.n_freqs, hidden, layers, batch_first=True, bidirectional=True, dropout=dropout if layers > 1 else 0.0
        )
        self.per_bin = 2 if mask == "complex" else 1
        self.head = nn.Linear(2 * hidden, self.n_src * self.n_freqs * self.per_bin)
        self._init_masks_to_share()

    def _init_masks_to_share(self) -> None:
        """Start with every mask near ``1/n_src`` (outputs sum to about the mixture), small random differences."""
        share = min(1.0 / self.n_src, 0.9 * self.mask_max) / self.mask_max
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            bias = self.head.bias.view(-1, self.per_bin)
            bias.zero_()
            bias[:, 0] = math.atanh(share) if self.mask == "complex" else math.log(share / (1 - share))

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, F, frames)`` with zero padding at the edges."""
        return stft(wav, self.n_fft, self.hop, self.window)

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """Level-independent features ``(B, frames, F)``: ``log1p`` of the magnitude over its RMS, affine per bin."""
        magnitude = spec.abs()
        scale = magnitude.square().mean((1, 2), keepdim=True).sqrt().clamp_min(_SCALE_FLOOR)
        feats = torch.log1p(magnitude / scale)
        return (feats * self.feat_scale[:, None] + self.feat_bias[:, None]).transpose(1, 2)

    def masks(self, feats: torch.Tensor) -> torch.Tensor:
        """Masks ``(B, n_src, F, frames)`` (complex dtype) from features ``(B, frames, F)``."""
        hidden, _ = self.blstm(feats)
        out = self.head(hidden).unflatten(-1, (self.n_src, self.n_freqs, self.per_bin))  # (B, frames, S, F, c)
        out = out.permute(0, 2, 3, 1, 4)  # (B, S, F, frames, c)
        if self.mask == "magnitude":
            gain = self.mask_max * torch.sigmoid(out[..., 0])
            return torch.complex(gain, torch.zeros_like(gain))
        return bounded_complex(torch.view_as_complex(out.contiguous()), self.mask_max)

    def load_widened(self, weights: dict[str, torch.Tensor]) -> list[str]:
        """A narrower separator's ``weights`` (fewer LSTM units) in this one, with the output unchanged (Net2Net-style).

        Each direction's old units take the first places of its block (per LSTM gate), and the new units have no
        say in the masks (``sepkit.models.widening``). Needs the same bins, layers, sources and mask; returns
        the names of the tensors that were widened.
        """
        own = self.state_dict()
        h, wide = int(weights["blstm.weight_hh_l0"].shape[1]), int(own["blstm.weight_hh_l0"].shape[1])
        if h > wide or set(weights) != set(own) or weights["head.weight"].shape[0] != own["head.weight"].shape[0]:
            raise ModelError(
                f"load_widened: needs the same layers, sources and mask and at most {wide} units (source: {h})"
            )
        one_direction, both = old_unit_places(h, wide, 1), old_unit_places(h, wide, 2)

        def grow(name: str, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor | None:
            if name.startswith("blstm.weight_hh"):
                return grow_gated(old, new, 4, one_direction)
            if name.startswith("blstm.weight_ih"):  # layers above the first hear both directions of the one below
                first = name in ("blstm.weight_ih_l0", "blstm.weight_ih_l0_reverse")
                return grow_gated(old, new, 4, None if first else both)
            if name.startswith("blstm.bias"):
                return grow_gated(old, new, 4, None)
            return grow_readout(old, new, both) if name == "head.weight" else None

        return load_grown(self, weights, grow)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate ``(B, T)`` mixtures into ``(B, n_src, T)``."""
        spec = self.spectrum(wav)
        est = self.masks(self.features(spec)) * spec[:, None]
        return istft(est, self.n_fft, self.hop, self.window, wav.shape[-1])

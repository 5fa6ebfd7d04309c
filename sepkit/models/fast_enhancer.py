"""FastEnhancer: a small causal STFT-mask enhancer that runs far faster than real time on one CPU core.

STFT (sqrt-Hann, 32 ms window, 8 ms hop at 16 kHz) -> log power minus its causal running mean
per bin (so a gain on the input changes nothing) -> Linear -> unidirectional GRU -> Linear ->
bounded mask on the complex spectrum -> iSTFT. Every step is causal, so the same weights can
stream frame by frame with ``n_fft`` samples of algorithmic latency.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn
import torchaudio.functional as AF

from sepkit.errors import ModelError
from sepkit.models.registry import register_model

MaskKind = Literal["real", "complex"]
_POWER_FLOOR = 1e-10  # keeps log finite on digital silence


def causal_running_mean(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Bias-corrected exponential moving average along the last axis: the mean of frames 0..t, recent ones weighted most."""
    a = torch.tensor([1.0, -alpha], dtype=x.dtype, device=x.device)
    b = torch.tensor([1.0 - alpha, 0.0], dtype=x.dtype, device=x.device)
    ema = AF.lfilter(x, a, b, clamp=False)
    steps = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)
    return ema / (1.0 - alpha**steps)  # without the correction, early frames would be pulled towards 0


@register_model("fast_enhancer")
class FastEnhancer(nn.Module):
    """Causal GRU mask estimator on a log-power STFT; ``(B, T) -> (B, 1, T)``, ~0.9 M parameters by default."""

    n_src = 1
    causal = True

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop: int = 128,
        hidden: int = 256,
        layers: int = 2,
        mask: MaskKind = "real",
        mask_max: float = 1.2,
        norm_tau: float = 1.0,
    ) -> None:
        super().__init__()
        if mask not in ("real", "complex"):
            raise ModelError(f"fast_enhancer: mask must be 'real' or 'complex', not {mask!r}")
        if not (n_fft > 0 and 0 < hop <= n_fft // 2 and hidden > 0 and layers > 0 and mask_max > 0 and norm_tau > 0):
            raise ModelError("fast_enhancer: n_fft, hidden, layers, mask_max, norm_tau must be positive and hop <= n_fft/2")
        self.sample_rate, self.n_fft, self.hop, self.mask = int(sample_rate), int(n_fft), int(hop), mask
        self.mask_max = float(mask_max)
        self.alpha = math.exp(-hop / (sample_rate * norm_tau))  # running-mean decay per frame
        self.latency_samples = self.n_fft  # algorithmic latency when streamed in hop-size blocks
        n_freqs = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft).sqrt(), persistent=False)
        # learnable per-bin affine on the normalised log power (init: natural-log units scaled to ~unit range)
        self.feat_scale = nn.Parameter(torch.full((n_freqs,), 0.1))
        self.feat_bias = nn.Parameter(torch.zeros(n_freqs))
        self.encode = nn.Linear(n_freqs, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
        out_per_bin = 1 if mask == "real" else 2
        self.decode = nn.Linear(hidden, n_freqs * out_per_bin)
        self._init_mask_to_unity()

    def _init_mask_to_unity(self) -> None:
        """Start near a pass-through (mask ≈ 1) so training begins from the input, not from noise."""
        target = min(1.0 / self.mask_max, 0.9)
        with torch.no_grad():
            self.decode.weight.mul_(0.1)
            bias = self.decode.bias.view(-1, 1 if self.mask == "real" else 2)
            bias.zero_()
            bias[:, 0] = math.log(target / (1 - target)) if self.mask == "real" else math.atanh(target)

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, F, frames)``; zero padding at the edges keeps the first frame causal-friendly."""
        return torch.stft(
            wav, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant", return_complex=True
        )

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """Level-independent features ``(B, frames, F)``: log power minus its causal running mean, per bin."""
        log_power = torch.log(spec.real.square() + spec.imag.square() + _POWER_FLOOR)
        normed = log_power - causal_running_mean(log_power, self.alpha)
        return (normed * self.feat_scale[:, None] + self.feat_bias[:, None]).transpose(1, 2)

    def masks(self, feats: torch.Tensor) -> torch.Tensor:
        """Bounded complex masks ``(B, F, frames)`` from features ``(B, frames, F)``."""
        x = torch.relu(self.encode(feats))
        y, _ = self.gru(x)
        out = self.decode(y + x).transpose(1, 2)  # (B, F·c, frames)
        if self.mask == "real":
            return torch.complex(self.mask_max * torch.sigmoid(out), torch.zeros_like(out))
        re, im = out.unflatten(1, (-1, 2)).unbind(2)
        z = torch.complex(re, im)
        magnitude = z.abs().clamp_min(1e-8)
        return z * (self.mask_max * torch.tanh(magnitude) / magnitude)  # |mask| < mask_max, phase learned

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Enhance ``(B, T)`` noisy speech into ``(B, 1, T)``."""
        spec = self.spectrum(wav)
        est = spec * self.masks(self.features(spec))
        out = torch.istft(est, self.n_fft, self.hop, window=self.window, center=True, length=wav.shape[-1])
        return out.unsqueeze(1)

"""The STFT and its inverse as (transposed) convolutions, so a graph exports to ONNX without complex tensors.

``ConvStft`` gives what ``torch.stft(center=True, pad_mode="constant", onesided)`` gives, as real and imaginary
parts; ``ConvIstft`` what ``torch.istft(center=True, length=...)`` gives: overlap-added windowed inverse
DFTs divided by the overlap-added squared window. Both work for any input length (ONNX dynamic axes).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _angles(n_fft: int) -> torch.Tensor:
    """``2 pi k n / n_fft`` for bins ``k`` (rows) and samples ``n`` (columns), in float64."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    return 2.0 * math.pi * k * n / n_fft


class ConvStft(nn.Module):
    """``(B, T)`` -> real and imaginary parts ``(B, F, frames)`` of the centred, zero-padded STFT."""

    def __init__(self, n_fft: int, hop: int, window: torch.Tensor) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        w = window.detach().double().cpu()
        basis = torch.cat([torch.cos(_angles(n_fft)) * w, -torch.sin(_angles(n_fft)) * w])  # (2F, n_fft)
        self.register_buffer("basis", basis.float()[:, None, :], persistent=False)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(wav[:, None], (self.n_fft // 2, self.n_fft // 2))
        spec = F.conv1d(x, self.basis, stride=self.hop)
        return spec.chunk(2, dim=1)


class ConvIstft(nn.Module):
    """Real and imaginary parts ``(B, F, frames)`` -> ``(B, length)``, the inverse of ``ConvStft``."""

    def __init__(self, n_fft: int, hop: int, window: torch.Tensor) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        w = window.detach().double().cpu()
        weight = torch.full((n_fft // 2 + 1, 1), 2.0, dtype=torch.float64)  # bins other than DC and Nyquist count twice
        weight[0] = 1.0
        if n_fft % 2 == 0:
            weight[-1] = 1.0
        basis = torch.cat([weight * torch.cos(_angles(n_fft)), -weight * torch.sin(_angles(n_fft))]) * w / n_fft
        self.register_buffer("basis", basis.float()[:, None, :], persistent=False)  # (2F, 1, n_fft)
        self.register_buffer("wsq", w.square().float()[None, None, :], persistent=False)

    def forward(self, re: torch.Tensor, im: torch.Tensor, length: torch.Tensor | int) -> torch.Tensor:
        y = F.conv_transpose1d(torch.cat([re, im], dim=1), self.basis, stride=self.hop)
        env = F.conv_transpose1d(torch.ones_like(re[:1, :1]), self.wsq, stride=self.hop)
        start = self.n_fft // 2
        return (y / env.clamp_min(1e-11))[:, 0, start : start + length]

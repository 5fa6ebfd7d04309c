"""SnrEstimator: the segmental SNR (dB) of noisy speech, frame by frame, for data purification.

Sivaraman & Kim's purification (``docs/methods.md`` section 4) weights a personalisation loss frame by
frame with ``sigmoid(SNR̂_t)``, where a separate network estimates how clean each frame of a
noisy recording is. This is that network: |STFT| (``sepkit.audio.stft``; Hann, 1024/256 at 16 kHz
by default) -> log power minus its mean over the whole input (so a gain on the input changes
nothing) -> per-bin affine -> GRU -> Linear -> SNR in dB per frame. Frame t covers the same samples
as frame t of ``sepkit.losses.segmental.frames`` with the same window and hop (centred, zero
padded), so estimates line up with segmental losses and with the segmental SNR it is trained on.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sepkit.audio.stft import add_window, power_spectrum, stft
from sepkit.errors import ModelError
from sepkit.models.registry import register_model

SNR_SCALE = 10.0  # the network predicts SNR / 10 dB: unit-range outputs, so a fresh output layer learns quickly
_POWER_FLOOR = 1e-10  # keeps log finite on digital silence


class FrameSnrModel(nn.Module):
    """What every segmental SNR estimator shares: one SNR per Hann frame of ``n_fft`` samples every ``hop``."""

    sample_rate: int
    n_fft: int
    hop: int

    @property
    def window_seconds(self) -> float:
        """Length of one analysis frame in seconds (the segment each SNR value describes)."""
        return self.n_fft / self.sample_rate

    @property
    def hop_seconds(self) -> float:
        """Time between frames in seconds."""
        return self.hop / self.sample_rate


@register_model("snr_estimator")
class SnrEstimator(FrameSnrModel):
    """Waveform ``(B, T)`` -> segmental SNR in dB ``(B, 1 + T // hop)``; a GRU on log |STFT| (papers: 3 x 1024, docs/methods.md §4)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop: int = 256,
        hidden: int = 1024,
        layers: int = 3,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        if not (n_fft > 0 and 0 < hop <= n_fft and hidden > 0 and layers > 0 and sample_rate > 0):
            raise ModelError("snr_estimator: sample_rate, n_fft, hidden, layers must be positive and 0 < hop <= n_fft")
        self.sample_rate, self.n_fft, self.hop = int(sample_rate), int(n_fft), int(hop)
        n_freqs = self.n_fft // 2 + 1
        add_window(self, self.n_fft, "hann")
        self.feat_scale = nn.Parameter(torch.full((n_freqs,), 0.1))
        self.feat_bias = nn.Parameter(torch.zeros(n_freqs))
        self.gru = nn.GRU(n_freqs, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), 1)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Gain-independent features ``(B, frames, F)``: log power minus its mean over all bins and frames."""
        log_power = torch.log(power_spectrum(stft(wav, self.n_fft, self.hop, self.window), _POWER_FLOOR))
        normed = log_power - log_power.mean(dim=(1, 2), keepdim=True)
        return (normed * self.feat_scale[:, None] + self.feat_bias[:, None]).transpose(1, 2)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Estimated SNR in dB of every frame: ``(B, T) -> (B, frames)``."""
        hidden, _ = self.gru(self.features(wav))
        return SNR_SCALE * self.out(hidden).squeeze(-1)

"""The two front ends of an SSL encoder: wav2vec 2.0's strided convolutions, or a normalised log-mel spectrogram.

Both map a waveform (B, T) to frames (B, F, C) with frame i covering samples
``[hop * i, hop * i + window)``, so targets (MFCC, teacher features) can be put on the same grid.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn

from sepkit.audio.stft import add_window, stft

# wav2vec 2.0's stem: kernel, stride per layer; 400-sample receptive field, stride 320 (20 ms at 16 kHz).
WAV2VEC2_LAYERS: tuple[tuple[int, int], ...] = ((10, 5),) + ((3, 2),) * 4 + ((2, 2),) * 2


class ConvStem(nn.Module):
    """Strided 1-D convolutions (torchaudio's wav2vec 2.0 feature extractor): raw audio to frames."""

    def __init__(
        self,
        channels: int = 256,
        layers: Sequence[Sequence[int]] = WAV2VEC2_LAYERS,
        norm: str = "group_norm",
        bias: bool = False,
    ) -> None:
        super().__init__()
        from torchaudio.models.wav2vec2.components import _get_feature_extractor

        self.layers = [(int(k), int(s)) for k, s in layers]
        self.extractor = _get_feature_extractor(norm, [(int(channels), k, s) for k, s in self.layers], bias)
        self.out_dim = int(channels)
        self.hop = math.prod(s for _, s in self.layers)
        self.window = 1
        jump = 1
        for kernel, stride in self.layers:  # receptive field of one output frame
            self.window += (kernel - 1) * jump
            jump *= stride

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Frames (B, F, channels) of waveforms (B, T)."""
        return self.extractor(wav, None)[0]


class LogMelStem(nn.Module):
    """Log-mel spectrogram normalised per utterance and bin (TERA's input and reconstruction target)."""

    def __init__(self, sample_rate: int, n_mels: int = 80, window: int = 400, hop: int = 160) -> None:
        super().__init__()
        import torchaudio.functional as AF

        self.out_dim, self.window, self.hop = int(n_mels), int(window), int(hop)
        # Fixed, so not saved: exported encoders hold learned weights only.
        add_window(self, self.window, "hann", name="hann")
        fbanks = AF.melscale_fbanks(self.window // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate)
        self.register_buffer("fbanks", fbanks, persistent=False)  # (bins, n_mels)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Frames (B, F, n_mels): log mel energies with zero mean and unit variance over each utterance."""
        with torch.autocast(wav.device.type, enabled=False):
            spec = stft(wav.float(), self.window, self.hop, self.hann, center=False)
            logmel = torch.log(spec.abs().square().transpose(1, 2) @ self.fbanks + 1e-6)
        return (logmel - logmel.mean(1, keepdim=True)) / (logmel.std(1, keepdim=True, correction=0) + 1e-5)

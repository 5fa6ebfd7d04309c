"""EnhancerSnrEstimator: segmental SNR (dB) read off a frozen enhancer's speech and noise estimates, then calibrated.

A GRU trained only on the demo corpus's hour of noise learns those noises and misjudges others
(``recipes/snr_estimator/README.md``). An enhancer trained on the same corpus already tells
speech from noise far better, because that is its whole job. This estimator runs one (any
registered one-output enhancer, ``enhancer_arch``: ``fast_enhancer`` by default, the shipped
estimator's, or ``filter_enhancer``, today's ``enhance-default``; frozen) on the noisy input,
splits it into ŝ = f(x) and n̂ = x − ŝ, and takes per frame (Hann, 64 ms / 16 ms by default, the
grid of ``SnrEstimator``):

- the raw estimate 10 log10(‖ŝ_t‖² / ‖n̂_t‖²), clamped to [−30, 40] dB;
- the same ratio in ``bands`` mel bands, and the frame's level relative to the recording's loudest;

and a small bidirectional GRU adds a correction to the raw estimate (its output layer starts at
zero, so an untrained head returns the raw estimate). Only the head trains, where the true SNR is
known (paradigm ``snr_estimator``); the enhancer's weights are copied in at the start of training
(``snr_estimator.enhancer_from``) and saved with the head, so an export is self-contained.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torchaudio

from sepkit.audio.stft import add_window, power_spectrum, stft
from sepkit.errors import ModelError
from sepkit.losses.segmental import segmental_snr
from sepkit.models.registry import build_model, register_model
from sepkit.models.snr_estimator import FrameSnrModel

SNR_SCALE = 10.0  # features and corrections in units of 10 dB
_FLOOR_DB, _CEIL_DB = -30.0, 40.0
_POWER_FLOOR = 1e-10


@register_model("enhancer_snr")
class EnhancerSnrEstimator(FrameSnrModel):
    """Waveform ``(B, T)`` -> segmental SNR in dB ``(B, 1 + T // hop)``: a frozen enhancer and a calibrating GRU."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop: int = 256,
        enhancer: dict[str, Any] | None = None,
        bands: int = 24,
        hidden: int = 64,
        layers: int = 1,
        enhancer_arch: str = "fast_enhancer",
    ) -> None:
        super().__init__()
        if not (n_fft > 0 and 0 < hop <= n_fft and bands > 0 and hidden > 0 and layers > 0 and sample_rate > 0):
            raise ModelError(
                "enhancer_snr: sample_rate, n_fft, bands, hidden, layers must be positive and 0 < hop <= n_fft"
            )
        self.sample_rate, self.n_fft, self.hop = int(sample_rate), int(n_fft), int(hop)
        args = dict(enhancer or {})
        if int(args.setdefault("sample_rate", self.sample_rate)) != self.sample_rate:
            raise ModelError(
                f"enhancer_snr: the enhancer runs at {args['sample_rate']} Hz, the estimator at {self.sample_rate} Hz"
            )
        self.enhancer = build_model(enhancer_arch, **args)  # ``enhancer`` holds its arguments
        if int(getattr(self.enhancer, "n_src", 0)) != 1:
            raise ModelError(f"enhancer_snr: enhancer_arch {enhancer_arch} is not an enhancer with one output")
        self.enhancer.requires_grad_(False)
        add_window(self, self.n_fft, "hann")
        fbank = torchaudio.functional.melscale_fbanks(
            self.n_fft // 2 + 1, 0.0, self.sample_rate / 2, bands, self.sample_rate
        )
        self.register_buffer("fbank", fbank, persistent=False)  # (F, bands)
        self.gru = nn.GRU(bands + 2, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def train(self, mode: bool = True) -> "EnhancerSnrEstimator":
        super().train(mode)
        self.enhancer.eval()  # frozen: always in inference mode
        return self

    def _spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, frames, F)`` on the estimator's Hann grid."""
        return stft(wav, self.n_fft, self.hop, self.window).transpose(1, 2)

    def _bands(self, spec: torch.Tensor) -> torch.Tensor:
        """Mel band powers ``(B, frames, bands)`` of a spectrum from ``_spectrum``."""
        return power_spectrum(spec) @ self.fbank

    def speech(self, wav: torch.Tensor) -> torch.Tensor:
        """The frozen enhancer's speech estimate ``(B, T)`` of noisy ``(B, T)``."""
        with torch.no_grad():
            return self.enhancer(wav)[:, 0]

    def raw_and_features(
        self, wav: torch.Tensor, speech: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The enhancer's own frame SNR ``(B, frames)`` in dB and the head's features ``(B, frames, bands + 2)``."""
        speech = self.speech(wav) if speech is None else speech
        noise = wav - speech
        raw = segmental_snr(speech, noise, self.n_fft, self.hop, _FLOOR_DB, _CEIL_DB)
        spec_x, spec_s = self._spectrum(wav), self._spectrum(speech)  # the noise's is their difference (linear)
        speech_bands, noise_bands = self._bands(spec_s), self._bands(spec_x - spec_s)
        band_snr = 10 * torch.log10((speech_bands + _POWER_FLOOR) / (noise_bands + _POWER_FLOOR))
        level = 10 * torch.log10(self._bands(spec_x).sum(-1) + _POWER_FLOOR)
        level = level - level.amax(-1, keepdim=True)  # dB below the recording's loudest frame: gain-free
        feats = torch.cat([raw[..., None], band_snr.clamp(_FLOOR_DB, _CEIL_DB), level.clamp_min(-80.0)[..., None]], -1)
        frames = min(raw.shape[-1], feats.shape[1])
        return raw[:, :frames], feats[:, :frames] / SNR_SCALE

    def estimate(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimated SNR in dB of every frame ``(B, frames)`` and the enhancer's speech estimate ``(B, T)``."""
        speech = self.speech(wav)
        raw, feats = self.raw_and_features(wav, speech)
        hidden, _ = self.gru(feats)
        return raw + SNR_SCALE * self.out(hidden).squeeze(-1), speech

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Estimated SNR in dB of every frame: ``(B, T) -> (B, frames)``."""
        return self.estimate(wav)[0]

"""Signal augmentations driven by an explicit numpy ``Generator``, so items stay reproducible.

torchaudio.functional does the signal processing (resampling for speed, biquads for EQ); reverb uses
``fft_convolve``, 5-6x faster than two calls of torchaudio's ``fftconvolve`` on 4 s of speech
(benchmarks/reverb_convolution.py), because it pads to a fast FFT size and transforms the speech once.
This module otherwise only draws the random parameters. Gain augmentation is the
datasets' job (``level_range_db``, ``gain_range_db``), as the mixing rescales every signal anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
import torchaudio.functional as AF

EARLY_MS = 50.0  # early reflections kept in the target after the direct path (DNS Challenge)


@dataclass(frozen=True)
class Augmentation:
    """Speed perturbation and random EQ for one signal; the defaults change nothing."""

    speed_factors: tuple[float, ...] = ()  # e.g. (0.9, 1.0, 1.1): one drawn per signal (Kaldi style)
    eq_prob: float = 0.0  # probability of a random EQ
    eq_bands: int = 3  # peaking biquads per EQ
    eq_max_gain_db: float = 8.0

    def draw_speed(self, rng: np.random.Generator) -> float:
        """The speed factor for one signal (1.0 when speed perturbation is off)."""
        return float(rng.choice(self.speed_factors)) if self.speed_factors else 1.0

    def equalize(self, wav: torch.Tensor, sample_rate: int, rng: np.random.Generator) -> torch.Tensor:
        """Random EQ with probability ``eq_prob`` (the random draw happens either way)."""
        apply = rng.random() < self.eq_prob
        bands = random_eq_bands(rng, sample_rate, self.eq_bands, self.eq_max_gain_db)
        return apply_eq(wav, sample_rate, bands) if apply else wav


def speed_perturb(wav: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """Play ``wav`` ``factor`` times faster (pitch shifts with it): length becomes ``len / factor``."""
    if factor == 1.0:
        return wav
    return AF.resample(wav, round(sample_rate * factor), sample_rate)


def random_eq_bands(
    rng: np.random.Generator, sample_rate: int, n_bands: int, max_gain_db: float
) -> list[tuple[float, float, float]]:
    """``(centre Hz, gain dB, Q)`` for ``n_bands`` peaking filters, centres log-uniform in 100 Hz .. 0.4 fs."""
    lo, hi = math.log(100.0), math.log(0.4 * sample_rate)
    return [
        (
            float(math.exp(rng.uniform(lo, hi))),
            float(rng.uniform(-max_gain_db, max_gain_db)),
            float(rng.uniform(0.5, 2.0)),
        )
        for _ in range(n_bands)
    ]


def apply_eq(wav: torch.Tensor, sample_rate: int, bands: list[tuple[float, float, float]]) -> torch.Tensor:
    """Cascade of peaking biquads (torchaudio's ``equalizer_biquad``)."""
    for freq, gain, q in bands:
        wav = AF.equalizer_biquad(wav, sample_rate, freq, gain, q)
    return wav


def direct_path_index(rir: torch.Tensor) -> int:
    """Index of the direct-path peak: the largest absolute sample."""
    return int(rir.abs().argmax())


def early_rir(rir: torch.Tensor, sample_rate: int, early_ms: float = EARLY_MS) -> torch.Tensor:
    """The RIR up to ``early_ms`` after its direct-path peak: what the DNS Challenge keeps as target."""
    end = direct_path_index(rir) + int(round(early_ms * sample_rate / 1000)) + 1
    return rir[:end]


def reverberate(
    wav: torch.Tensor, rir: torch.Tensor, sample_rate: int, early_ms: float = EARLY_MS
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(reverberant, early-reverberant target)``, both as long as ``wav`` and aligned with each other."""
    full, early = fft_convolve(wav, [rir, early_rir(rir, sample_rate, early_ms)])
    return full, early


def fft_convolve(wav: torch.Tensor, filters: list[torch.Tensor]) -> list[torch.Tensor]:
    """``wav`` linearly convolved with each filter, cut to ``wav``'s length (its leading samples).

    One FFT of ``wav`` serves every filter, and the FFT size is the next 5-smooth length above the full
    convolution's (no circular wrap): a raw ``len(wav) + len(rir) - 1`` can be a slow, prime-heavy size.
    """
    n = wav.shape[-1]
    size = scipy.fft.next_fast_len(n + max(f.shape[-1] for f in filters) - 1, real=True)
    spectrum = torch.fft.rfft(wav, size)
    return [torch.fft.irfft(spectrum * torch.fft.rfft(f, size), size)[..., :n] for f in filters]

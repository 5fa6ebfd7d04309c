"""Corruptions that widen the enhancement and separation training distributions towards real recordings.

Each is a switch of :class:`Corruption` (a ``corrupt:`` mapping in a dataset config) and draws its
parameters from the item's numpy ``Generator``, so items stay reproducible. What they model:

- noise families the corpus lacks: babble (3-8 other speakers), stationary noise (white, pink,
  brown) and mains hum (50/60 Hz with harmonics);
- microphone colouring: a random second-order filter on the speech and another on the noise
  (Valin, RNNoise, 2018), so the model learns no fixed spectral balance;
- telephone and VoIP channels: speech and noise band-limited to 4 kHz (and a 300 Hz high-pass), and
  the mixture coded: G.711 mu-law quantisation, or G.722, Opus or MP3 through FFmpeg (``codecs``);
- clipping of the mixture (never of the target).

Linear channel effects (colouring, band-limiting) apply to the target as well: the model should
remove the noise, not guess the band or the microphone it never heard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch
import torchaudio.functional as AF

from sepkit.audio.codec import check_names, codec_round_trip, require_backend

STATIONARY_KINDS = ("white", "pink", "brown", "hum")
MU_LAW = "mu-law"  # the codec that needs no FFmpeg
NARROWBAND_RATE = 8000
COLOUR_RANGE = 3 / 8  # RNNoise's bound on the random biquad coefficients


@dataclass(frozen=True)
class Corruption:
    """Probabilities and ranges of each corruption; the defaults change nothing."""

    babble_prob: float = 0.0  # noise = babble of other speakers instead of a noise file
    babble_talkers: tuple[int, int] = (3, 8)
    stationary_prob: float = 0.0  # noise = white, pink, brown noise or hum instead of a noise file
    colour_prob: float = 0.0  # a random biquad on the speech, another on the noise
    narrowband_prob: float = 0.0  # speech and noise band-limited to 4 kHz
    codec_prob: float = 0.0  # the mixture coded and decoded with one of ``codecs``
    codecs: tuple[str, ...] = (MU_LAW,)  # drawn uniformly; names other than mu-law need FFmpeg (sepkit.audio.codec)
    clip_prob: float = 0.0  # mixture clipped
    clip_range: tuple[float, float] = (0.3, 0.8)  # clipping threshold as a share of the mixture's peak

    def __post_init__(self) -> None:
        if not all(0.0 <= p <= 1.0 for p in self.probabilities) or self.babble_prob + self.stationary_prob > 1.0:
            raise ValueError("corrupt: probabilities must lie in [0, 1], and babble_prob + stationary_prob <= 1")
        lo, hi = self.babble_talkers
        if not 1 <= lo <= hi:
            raise ValueError(f"corrupt.babble_talkers: need 1 <= min <= max, got {self.babble_talkers!r}")
        if not 0.0 < self.clip_range[0] <= self.clip_range[1] <= 1.0:
            raise ValueError(f"corrupt.clip_range: need 0 < min <= max <= 1, got {self.clip_range!r}")
        if not self.codecs:
            raise ValueError("corrupt.codecs: name at least one codec")
        through_codec = tuple(c for c in self.codecs if c != MU_LAW)
        try:  # a misspelt name fails even while the switch is off; a backend is needed only when it is on
            check_names(through_codec)
            if self.codec_prob > 0:
                require_backend(through_codec)
        except ValueError as exc:
            raise ValueError(f"corrupt.codecs: {exc}") from None

    @property
    def active(self) -> bool:
        """Whether any corruption can happen (inactive ones draw nothing, so old configs keep their items)."""
        return any(self.probabilities)

    @property
    def probabilities(self) -> tuple[float, ...]:
        """The six corruptions' probabilities (babble, stationary, colour, narrowband, codec, clip)."""
        return (
            self.babble_prob,
            self.stationary_prob,
            self.colour_prob,
            self.narrowband_prob,
            self.codec_prob,
            self.clip_prob,
        )

    def noise_family(self, rng: np.random.Generator) -> str:
        """``"babble"``, ``"stationary"`` or ``"file"`` (a real noise recording)."""
        u = rng.random()
        return (
            "babble"
            if u < self.babble_prob
            else "stationary"
            if u < self.babble_prob + self.stationary_prob
            else "file"
        )


def stationary_noise(
    n: int, sample_rate: int, rng: np.random.Generator, kind: str | None = None
) -> tuple[torch.Tensor, str]:
    """``n`` samples of unit-RMS stationary noise of ``kind`` (drawn when ``None``), and the kind."""
    kind = kind or str(rng.choice(STATIONARY_KINDS))
    if kind == "hum":
        f0 = float(rng.choice((50.0, 60.0))) * float(rng.uniform(0.995, 1.005))
        t = np.arange(n) / sample_rate
        wave = np.zeros(n)
        for h in range(1, int(min(12, sample_rate / 2 // f0)) + 1):  # odd harmonics dominate in real hum
            amp = rng.uniform(0.3, 1.0) / h ** (0.5 if h % 2 else 1.5)
            wave += amp * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
        wave += 0.01 * rng.standard_normal(n)
    elif kind in ("white", "pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / sample_rate)
        slope = {"white": 0.0, "pink": 0.5, "brown": 1.0}[kind]  # amplitude ~ f^-slope: power -3 / -6 dB per octave
        spectrum *= np.maximum(freqs, 20.0) ** -slope
        wave = np.fft.irfft(spectrum, n)
    else:
        raise ValueError(f"unknown stationary noise kind {kind!r} ({', '.join(STATIONARY_KINDS)})")
    wave = torch.from_numpy(wave).float()
    return wave / wave.pow(2).mean().sqrt().clamp_min(1e-12), kind


def random_colouring(wav: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random second-order IIR filter (zeros and poles bounded by ``COLOUR_RANGE``, always stable)."""
    r = rng.uniform(-COLOUR_RANGE, COLOUR_RANGE, size=4)
    b = torch.tensor([1.0, r[0], r[1]], dtype=wav.dtype)
    a = torch.tensor([1.0, r[2], r[3]], dtype=wav.dtype)
    return AF.lfilter(wav, a, b, clamp=False)


def narrowband(wav: torch.Tensor, sample_rate: int, highpass: bool) -> torch.Tensor:
    """``wav`` through an 8 kHz channel (nothing above 4 kHz), optionally with a 300 Hz high-pass, at its own rate."""
    if sample_rate > NARROWBAND_RATE:
        steep = {
            "lowpass_filter_width": 32,
            "rolloff": 0.94,
            "resampling_method": "sinc_interp_kaiser",
            "beta": 14.77,
        }  # a codec-like stop band (well under -40 dB) instead of the default's gentle one
        down = AF.resample(wav, sample_rate, NARROWBAND_RATE, **steep)
        wav = AF.resample(down, NARROWBAND_RATE, sample_rate, **steep)[..., : wav.shape[-1]]
    if not highpass:
        return wav
    b, a = scipy.signal.butter(2, 300.0, "highpass", fs=sample_rate)
    return AF.lfilter(wav, torch.tensor(a, dtype=wav.dtype), torch.tensor(b, dtype=wav.dtype), clamp=False)


def mu_law_round_trip(wav: torch.Tensor) -> torch.Tensor:
    """G.711-style 8-bit mu-law quantisation of a signal in [-1, 1]."""
    return AF.mu_law_decoding(AF.mu_law_encoding(wav.clamp(-1, 1), 256), 256)


def coded(wav: torch.Tensor, sample_rate: int, codec: str) -> torch.Tensor:
    """``wav`` through ``codec`` (``MU_LAW`` or a name in ``sepkit.audio.codec.CODECS``) and back, same alignment."""
    return mu_law_round_trip(wav) if codec == MU_LAW else codec_round_trip(wav, sample_rate, codec)


def clip(wav: torch.Tensor, share: float) -> torch.Tensor:
    """``wav`` hard-clipped at ``share`` of its peak."""
    limit = share * float(wav.abs().max())
    return wav.clamp(-limit, limit) if limit > 0 else wav

"""Lossy speech codecs as a round trip through the ``ffmpeg`` program: G.722, Opus and MP3 at low rates.

Real recordings reach users through phones, meetings and compressed files; a training corruption
(``corrupt.codecs`` in ``sepkit.data.corruption``) sends the mixture through one of these and back, so
the model learns to enhance coded speech. torchaudio no longer binds ffmpeg, so the program is run on
pipes: float PCM in, the coded stream between two processes, float PCM out at the input's rate. Each
codec's delay is measured on the signal and removed, so the output stays sample-aligned with its
target (a misaligned input would teach a supervised model to smear).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch

MAX_DELAY_SECONDS = 0.1  # the alignment search spans this much either way (MP3's 1105 samples at 16 kHz: 69 ms)


@dataclass(frozen=True)
class Codec:
    """One ffmpeg encoder setting: the container it travels in and the rate it codes at."""

    encoder: tuple[str, ...]
    container: str
    rate: int


# Wideband codecs that keep the waveform (SI-SDR of a coded clean utterance against itself: G.722 27 dB, MP3 16 dB,
# Opus 12 dB). Left out on purpose: GSM and narrowband Speex cut the band at 4 kHz while the target keeps it
# (``narrowband_prob`` models the band on both), and Opus's SILK mode and Speex re-synthesise the waveform
# (SI-SDR -1.5 to -4.6 dB aligned), a target no enhancer can reach from that input.
CODECS = {
    "g722": Codec(("-c:a", "g722"), "g722", 16000),  # G.722 ADPCM, 64 kbit/s: HD-voice telephony
    "opus": Codec(("-c:a", "libopus", "-b:a", "16k"), "ogg", 16000),  # Opus at 16 kbit/s (CELT, wideband)
    "mp3": Codec(("-c:a", "libmp3lame", "-b:a", "16k"), "mp3", 16000),  # MPEG-2 layer 3 at 16 kbit/s
}


@functools.lru_cache(maxsize=1)
def ffmpeg_program() -> str | None:
    """The ``ffmpeg`` on PATH, or None."""
    return shutil.which("ffmpeg")


def check_names(names: tuple[str, ...]) -> None:
    """Raise ValueError on the first name that is not in ``CODECS``."""
    unknown = [n for n in names if n not in CODECS]
    if unknown:
        raise ValueError(f"unknown codec {unknown[0]!r} (known: {', '.join(CODECS)})")


def require_ffmpeg(names: tuple[str, ...]) -> None:
    """Raise ValueError naming the first codec when ``names`` (checked by ``check_names``) need ffmpeg and it is missing."""
    if names and ffmpeg_program() is None:
        raise ValueError(f"codec {names[0]!r} needs the ffmpeg program on PATH (e.g. apt install ffmpeg)")


def _run(args: list[str], data: bytes) -> bytes:
    done = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"ffmpeg failed: {tail[0]}")
    return done.stdout


def _coded(wav: np.ndarray, sample_rate: int, codec: Codec) -> np.ndarray:
    """One channel through the encoder and decoder, back at ``sample_rate`` (delay not yet removed)."""
    program = ffmpeg_program()
    base = [program or "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    pcm = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]
    stream = _run(
        [*base, *pcm, "-i", "pipe:0", "-ar", str(codec.rate), *codec.encoder, "-f", codec.container, "pipe:1"],
        wav.astype("<f4").tobytes(),
    )
    out = _run([*base, "-f", codec.container, "-i", "pipe:0", *pcm, "pipe:1"], stream)
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def _aligned(coded: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """``coded`` shifted by the lag that best matches ``reference``, cut or zero-padded to its length."""
    n = len(reference)
    padded = np.zeros(n + 2 * max_lag)
    take = coded[: n + max_lag]
    padded[max_lag : max_lag + len(take)] = take  # coded sample i sits at padded[i + max_lag]
    corr = scipy.signal.correlate(padded, reference, mode="valid", method="fft")  # lags -max_lag .. +max_lag
    lag = int(np.argmax(corr)) - max_lag if corr.max() > 0 else 0  # silence: nothing to align, keep the codec's timing
    return padded[max_lag + lag : max_lag + lag + n]


def codec_round_trip(wav: torch.Tensor, sample_rate: int, name: str) -> torch.Tensor:
    """``wav`` (``(T,)`` or ``(C, T)``, in [-1, 1]) coded with ``CODECS[name]`` and decoded, same shape and alignment."""
    check_names((name,))
    require_ffmpeg((name,))
    channels = wav.detach().reshape(-1, wav.shape[-1]).double().clamp(-1, 1).cpu().numpy()
    max_lag = round(MAX_DELAY_SECONDS * sample_rate)
    out = [_aligned(_coded(ch, sample_rate, CODECS[name]), ch, max_lag) for ch in channels]
    return torch.from_numpy(np.stack(out)).to(wav.dtype).reshape(wav.shape)

"""Lossy speech codecs as a round trip: G.722, Opus and MP3 at low rates, in process or through ``ffmpeg``.

Real recordings reach users through phones, meetings and compressed files; a training corruption
(``corrupt.codecs`` in ``sepkit.data.corruption``) sends the mixture through one of these and back, so
the model learns to enhance coded speech. torchaudio no longer binds FFmpeg, so there are two ways in:
PyAV (``pip install "sepkit[codecs]"``), which codes in this process from memory to memory, and the
``ffmpeg`` program on pipes, which costs two process starts per item (``benchmarks/codec_cost.py``).
PyAV is used when it imports, the program otherwise. Each codec's delay is measured on the signal and
removed, so the output stays sample-aligned with its target (a misaligned input would teach a
supervised model to smear).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch

MAX_DELAY_SECONDS = 0.1  # the alignment search spans this much either way (MP3's 1105 samples at 16 kHz: 69 ms)


@dataclass(frozen=True)
class Codec:
    """One encoder setting: the FFmpeg encoder, the container it travels in, the rate it codes at, its bit rate."""

    encoder: str
    container: str
    rate: int
    bit_rate: int | None = None  # bits per second; None: the encoder's own (G.722 has one)

    def ffmpeg_args(self) -> list[str]:
        """The ``ffmpeg`` program's output options for this setting."""
        return ["-c:a", self.encoder, *(["-b:a", str(self.bit_rate)] if self.bit_rate else [])]


# Wideband codecs that keep the waveform (SI-SDR of a coded clean utterance against itself: G.722 27 dB, MP3 16 dB,
# Opus 12 dB). Left out on purpose: GSM and narrowband Speex cut the band at 4 kHz while the target keeps it
# (``narrowband_prob`` models the band on both), and Opus's SILK mode and Speex re-synthesise the waveform
# (SI-SDR -1.5 to -4.6 dB aligned), a target no enhancer can reach from that input.
CODECS = {
    "g722": Codec("g722", "g722", 16000),  # G.722 ADPCM, 64 kbit/s: HD-voice telephony
    "opus": Codec("libopus", "ogg", 16000, 16000),  # Opus at 16 kbit/s (CELT, wideband)
    "mp3": Codec("libmp3lame", "mp3", 16000, 16000),  # MPEG-2 layer 3 at 16 kbit/s
}
BACKENDS = ("av", "ffmpeg")  # PyAV in this process; the ffmpeg program on pipes


@functools.lru_cache(maxsize=1)
def ffmpeg_program() -> str | None:
    """The ``ffmpeg`` on PATH, or None."""
    return shutil.which("ffmpeg")


@functools.lru_cache(maxsize=1)
def pyav_codecs() -> frozenset[str]:
    """The encoders and decoders PyAV offers, or none when it does not import."""
    try:
        import av
    except ImportError:
        return frozenset()
    return frozenset(av.codecs_available)


def available_backends() -> tuple[str, ...]:
    """The backends here, preferred first: ``"av"`` when PyAV has every encoder of ``CODECS``, ``"ffmpeg"`` when the
    program is on PATH."""
    present = {"av": {c.encoder for c in CODECS.values()} <= pyav_codecs(), "ffmpeg": ffmpeg_program() is not None}
    return tuple(b for b in BACKENDS if present[b])


def codec_backend() -> str | None:
    """The backend ``codec_round_trip`` uses by default: the first of ``available_backends()``, or None."""
    return next(iter(available_backends()), None)


def check_names(names: tuple[str, ...]) -> None:
    """Raise ValueError on the first name that is not in ``CODECS``."""
    unknown = [n for n in names if n not in CODECS]
    if unknown:
        raise ValueError(f"unknown codec {unknown[0]!r} (known: {', '.join(CODECS)})")


def require_backend(names: tuple[str, ...]) -> None:
    """Raise ValueError naming the first codec when ``names`` (checked by ``check_names``) need a backend and none is
    there."""
    if names and codec_backend() is None:
        raise ValueError(f'codec {names[0]!r} needs PyAV (pip install "sepkit[codecs]") or the ffmpeg program on PATH')


def _run(args: list[str], data: bytes) -> bytes:
    done = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"ffmpeg failed: {tail[0]}")
    return done.stdout


def _coded_by_program(wav: np.ndarray, sample_rate: int, codec: Codec) -> np.ndarray:
    """One channel through the ``ffmpeg`` program's encoder and decoder, back at ``sample_rate`` (delay kept)."""
    program = ffmpeg_program()
    base = [program or "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    pcm = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]
    stream = _run(
        [*base, *pcm, "-i", "pipe:0", "-ar", str(codec.rate), *codec.ffmpeg_args(), "-f", codec.container, "pipe:1"],
        wav.astype("<f4").tobytes(),
    )
    out = _run([*base, "-f", codec.container, "-i", "pipe:0", *pcm, "pipe:1"], stream)
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def _coded_by_pyav(wav: np.ndarray, sample_rate: int, codec: Codec) -> np.ndarray:
    """One channel through PyAV's encoder and decoder in memory, back at ``sample_rate`` (delay kept)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=codec.container) as out:
        stream = out.add_stream(codec.encoder, rate=codec.rate, layout="mono")
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        to_codec = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=codec.rate)
        frame = av.AudioFrame.from_ndarray(wav.astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for part in (*to_codec.resample(frame), *to_codec.resample(None), None):
            for packet in stream.encode(part):
                out.mux(packet)
    buffer.seek(0)
    decoded: list[np.ndarray] = []
    with av.open(buffer, "r", format=codec.container) as inp:
        to_pcm = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in inp.decode(audio=0):
            decoded.extend(f.to_ndarray()[0] for f in to_pcm.resample(frame))
        decoded.extend(f.to_ndarray()[0] for f in to_pcm.resample(None))
    return np.concatenate(decoded).astype(np.float64) if decoded else np.zeros(0)


CODERS = {"av": _coded_by_pyav, "ffmpeg": _coded_by_program}


def _aligned(coded: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """``coded`` shifted by the lag that best matches ``reference``, cut or zero-padded to its length."""
    n = len(reference)
    padded = np.zeros(n + 2 * max_lag)
    take = coded[: n + max_lag]
    padded[max_lag : max_lag + len(take)] = take  # coded sample i sits at padded[i + max_lag]
    corr = scipy.signal.correlate(padded, reference, mode="valid", method="fft")  # lags -max_lag .. +max_lag
    lag = int(np.argmax(corr)) - max_lag if corr.max() > 0 else 0  # silence: nothing to align, keep the codec's timing
    return padded[max_lag + lag : max_lag + lag + n]


def codec_round_trip(wav: torch.Tensor, sample_rate: int, name: str, backend: str | None = None) -> torch.Tensor:
    """``wav`` (``(T,)`` or ``(C, T)``, in [-1, 1]) coded with ``CODECS[name]`` and decoded, same shape and alignment.

    ``backend`` is ``"av"`` or ``"ffmpeg"``; None picks ``codec_backend()``.
    """
    check_names((name,))
    require_backend((name,))
    coder = CODERS[backend or codec_backend() or "ffmpeg"]
    channels = wav.detach().reshape(-1, wav.shape[-1]).double().clamp(-1, 1).cpu().numpy()
    max_lag = round(MAX_DELAY_SECONDS * sample_rate)
    out = [_aligned(coder(ch, sample_rate, CODECS[name]), ch, max_lag) for ch in channels]
    return torch.from_numpy(np.stack(out)).to(wav.dtype).reshape(wav.shape)

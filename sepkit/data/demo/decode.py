"""One source file -> 16 kHz mono pieces on disk: decoding, silence checks, trimming, cutting.

Runs in worker processes: a job holds only plain values, the result is a list of pieces (or the
reason the file was skipped). Speech is trimmed to its active part, files longer than the
kind's maximum are cut at the quietest 20 ms frame near each nominal cut point, and RIRs start
2.5 ms before their direct path and are kept as float WAV.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sepkit.audio.io import write_audio

FRAME_S = 0.02
SILENT_DBFS = -60.0  # a whole file quieter than this (RMS) is a silence clip
TRIM_DB = 40.0  # speech frames this far below the loudest frame count as silence at the edges
TRIM_MARGIN_S = 0.1


@dataclass(frozen=True)
class DecodeJob:
    """Decode ``src`` into ``out_dir/<stem>[_pNN].<ext>`` at ``sample_rate``."""

    src: str
    out_dir: str
    stem: str
    ext: str
    kind: str
    sample_rate: int
    min_seconds: float
    max_seconds: float
    min_source_rate: int = 0  # skip band-limited sources (speech only)


def run_job(job: DecodeJob) -> list[dict] | str:
    """Pieces ``{"path", "duration", ...}`` written for ``job``, or why the file was skipped."""
    if job.min_source_rate and not job.src.endswith(".g722"):
        rate = sf.info(job.src).samplerate
        if rate < job.min_source_rate:
            return f"sample rate {rate} Hz below {job.min_source_rate} Hz"
    try:
        x = decode(job.src, job.sample_rate, first_channel=job.kind == "rir")
    except RuntimeError as exc:
        return str(exc)
    if x.size == 0 or not np.isfinite(x).all():
        return "empty or non-finite audio"
    if job.kind == "rir":
        x = trim_rir(x, job.sample_rate, job.max_seconds)
    elif 20 * math.log10(max(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 1e-10)) < SILENT_DBFS:
        return "silent"
    if job.kind == "speech":
        x = trim_silence(x, job.sample_rate)
    if x.size < job.min_seconds * job.sample_rate:
        return f"shorter than {job.min_seconds} s"
    peak = float(np.abs(x).max())
    if job.kind == "rir":
        x = x / peak
    elif peak > 0.99:  # resampling can overshoot: scale down rather than clip
        x = x * (0.99 / peak)
    bounds = [(0, x.size)] if job.kind == "rir" else cut_points(x, job.sample_rate, job.max_seconds)
    pieces = []
    for k, (a, b) in enumerate(bounds):
        if b - a < job.min_seconds * job.sample_rate:
            continue
        name = f"{job.stem}{'' if len(bounds) == 1 else f'_p{k:02d}'}.{job.ext}"
        path = write_audio(
            Path(job.out_dir) / name, x[a:b], job.sample_rate, "FLOAT" if job.kind == "rir" else "PCM_16"
        )
        piece = {"path": str(path), "duration": round((b - a) / job.sample_rate, 4), "sample_rate": job.sample_rate}
        if len(bounds) > 1:
            piece["piece"] = k
        if job.kind == "speech":
            piece["est_snr_db"] = round(estimate_snr_db(x[a:b], job.sample_rate), 1)
        pieces.append(piece)
    return pieces or f"no piece of at least {job.min_seconds} s"


def decode(src: str, sample_rate: int, first_channel: bool = False) -> np.ndarray:
    """Float32 mono at ``sample_rate``: libsndfile + soxr in-process, ffmpeg for the rest (``.g722``)."""
    try:
        data, rate = sf.read(src, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError):
        return _ffmpeg_decode(src, sample_rate, first_channel)
    x = data[:, 0] if first_channel else data.mean(axis=1)
    return soxr.resample(x, rate, sample_rate, quality="HQ").astype(np.float32) if rate != sample_rate else x


def _ffmpeg_decode(src: str, sample_rate: int, first_channel: bool) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error"] + (["-f", "g722"] if src.endswith(".g722") else [])
    filters = ("pan=mono|c0=c0," if first_channel else "") + f"aresample={sample_rate}:resampler=soxr"
    cmd += ["-i", src, "-map", "0:a:0", "-af", filters, "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode != 0:
        msg = " ".join(result.stderr.decode(errors="replace").split())[:160]
        raise RuntimeError(f"ffmpeg could not decode it ({msg})")
    return np.frombuffer(result.stdout, dtype=np.float32).copy()


def frame_power_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power in dB of consecutive 20 ms frames (the last partial frame dropped, at least one frame)."""
    n = max(1, int(FRAME_S * sample_rate))
    frames = x[: max(n, x.size // n * n)]
    frames = np.pad(frames, (0, max(0, n - frames.size))).reshape(-1, n).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def trim_silence(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Drop leading and trailing frames more than 40 dB below the loudest one, keeping 0.1 s margins."""
    db = frame_power_db(x, sample_rate)
    active = np.flatnonzero(db > db.max() - TRIM_DB)
    n = int(FRAME_S * sample_rate)
    margin = int(TRIM_MARGIN_S * sample_rate)
    return x[max(0, active[0] * n - margin) : min(x.size, (active[-1] + 1) * n + margin)]


def cut_points(x: np.ndarray, sample_rate: int, max_seconds: float) -> list[tuple[int, int]]:
    """Split into ``ceil(len / max)`` near-equal pieces, each cut moved to the quietest frame within 1.5 s."""
    n_pieces = math.ceil(x.size / (max_seconds * sample_rate))
    if n_pieces <= 1:
        return [(0, x.size)]
    frame = int(FRAME_S * sample_rate)
    db = frame_power_db(x, sample_rate)
    reach = int(1.5 / FRAME_S)
    cuts = [0]
    for k in range(1, n_pieces):
        centre = round(k * x.size / n_pieces / frame)
        lo, hi = max(centre - reach, 1), min(centre + reach, db.size - 1)
        cuts.append(int(lo + np.argmin(db[lo:hi])) * frame if hi > lo else centre * frame)
    cuts.append(x.size)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def estimate_snr_db(x: np.ndarray, sample_rate: int) -> float:
    """Rough SNR of a recording: loud (95th percentile) over quiet (10th percentile) frame power, in dB."""
    db = frame_power_db(x, sample_rate)
    return float(min(80.0, np.percentile(db, 95) - np.percentile(db, 10)))


def trim_rir(x: np.ndarray, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Start 2.5 ms before the direct-path peak; at most ``max_seconds`` long."""
    start = max(0, int(np.abs(x).argmax()) - int(0.0025 * sample_rate))
    return x[start : start + int(max_seconds * sample_rate)]

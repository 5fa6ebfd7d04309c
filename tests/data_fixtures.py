"""Helpers for the data-layer tests: small audio files and fake corpus trees made on the fly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from sepkit.data.manifest import file_entry, write_manifest


def tone(seconds: float, sr: int = 16000, freq: float = 220.0, seed: int = 0, noise: float = 0.01) -> np.ndarray:
    """A modulated sine plus a little white noise, float32 mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t)
    return (0.3 * env * np.sin(2 * np.pi * freq * t) + noise * rng.standard_normal(t.size)).astype(np.float32)


def white(seconds: float, sr: int = 16000, seed: int = 0, level: float = 0.1) -> np.ndarray:
    """White noise, float32 mono."""
    return (level * np.random.default_rng(seed).standard_normal(int(round(seconds * sr)))).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = 16000, subtype: str | None = None) -> Path:
    """Write ``audio`` with soundfile (format from the suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype=subtype)
    return path


def speech_corpus(
    root: Path, speakers: int = 4, utts: int = 3, seconds: float = 1.5, sr: int = 16000, split: str | None = None
) -> Path:
    """``root/spk<k>/utt<j>.wav`` files and a manifest of them (speaker per folder); returns the manifest."""
    entries = []
    for k in range(speakers):
        for j in range(utts):
            p = write(root / f"spk{k}" / f"utt{j}.wav", tone(seconds + 0.25 * j, sr, 150 + 40 * k, seed=10 * k + j), sr)
            entries.append(file_entry(p, split or ("train", "dev", "test")[k % 3], "speech", f"spk{k}"))
    return write_manifest(entries, root / "speech.jsonl")


def noise_corpus(root: Path, files: int = 3, seconds: float = 3.0, sr: int = 16000, split: str = "train") -> Path:
    """White-noise files and their manifest; returns the manifest."""
    entries = [
        file_entry(write(root / f"n{i}.wav", white(seconds + i, sr, seed=100 + i), sr), split, "noise")
        for i in range(files)
    ]
    return write_manifest(entries, root / "noise.jsonl")


def rir_corpus(root: Path, files: int = 2, sr: int = 16000, split: str = "train") -> Path:
    """Exponentially decaying noise RIRs with a delayed direct path; returns the manifest."""
    entries = []
    for i in range(files):
        rng = np.random.default_rng(200 + i)
        n = int(0.3 * sr)
        rir = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * sr)) * 0.3
        rir[:40] = 0.0
        rir[40] = 1.0
        entries.append(file_entry(write(root / f"rir{i}.wav", rir.astype(np.float32), sr, "FLOAT"), split, "rir"))
    return write_manifest(entries, root / "rir.jsonl")


def noisy_speech_spec(speech: Path, noise: Path, **corrupt: Any) -> dict[str, Any]:
    """A ``data.train`` mapping for a short ``noisy_speech`` dataset over the two manifests, with ``corrupt``."""
    return {
        "type": "noisy_speech",
        "speech_manifest": str(speech),
        "noise_manifest": str(noise),
        "segment_seconds": 1.0,
        "length": 4,
        "corrupt": corrupt,
    }

"""Synthetic English speech from espeak-ng: many accent x voice-variant "speakers", for train only.

The text is sentences of the licence texts every Debian system ships (/usr/share/common-licenses).
Synthetic speech adds variety for pretraining; it is never evaluation material and never the
only training speech, and its manifest entries carry ``"synthetic": true``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from sepkit.atomic import AtomicFile
from sepkit.errors import ConfigError

LICENSE_DIR = Path("/usr/share/common-licenses")
LICENSE_TEXTS = ("Apache-2.0", "GPL-3", "GFDL-1.3", "MPL-2.0", "Artistic", "LGPL-3")


def sentences(min_chars: int = 40, max_chars: int = 200) -> list[str]:
    """Plain sentences from the system's licence texts, in a fixed order."""
    out: list[str] = []
    for name in LICENSE_TEXTS:
        path = LICENSE_DIR / name
        if path.is_file():
            text = " ".join(path.read_text(errors="replace").split())
            out += [
                s.strip()
                for s in re.split(r"(?<=[.;:])\s+", text)
                if min_chars <= len(s.strip()) <= max_chars and re.fullmatch(r"[A-Za-z ,.;:'()-]+", s.strip())
            ]
    if not out:
        raise ConfigError(f"{LICENSE_DIR}: no licence texts to read sentences from")
    return list(dict.fromkeys(out))


def voices() -> list[str]:
    """espeak-ng English accents x voice variants, e.g. ``en-gb-scotland+Alex``."""
    accents = _voice_files("en", lambda f: f.startswith("gmw/"))  # not MBROLA (not installable)
    variants = [f.split("/", 1)[1] for f in _voice_files("variant", lambda f: f.startswith("!v/"))]
    return [f"{a}+{v}" for a in accents for v in variants]


def _voice_files(query: str, keep) -> list[str]:
    result = subprocess.run(["espeak-ng", f"--voices={query}"], capture_output=True, text=True)
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return sorted({r[4] if query == "variant" else r[1] for r in rows if len(r) >= 5 and keep(r[4])})


def synthesize(n: int, out_dir: Path, seed: int = 0) -> list[dict]:
    """``n`` utterances as 22.05 kHz WAVs in ``out_dir`` (kept when already there): path, speaker, text.

    Each utterance draws its own speed and pitch, so one ``speaker`` (a voice) speaks at several pitches."""
    texts, all_voices = sentences(), voices()
    rng = np.random.default_rng([seed, 7])
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        voice = all_voices[int(rng.integers(len(all_voices)))]
        text = texts[int(rng.integers(len(texts)))]
        speed, pitch = int(rng.integers(140, 191)), int(rng.integers(30, 71))
        path = out_dir / f"espeak_{i:05d}.wav"
        _speak(voice, speed, pitch, text, path)
        rows.append({"path": str(path), "speaker": f"espeak-{voice}", "text": text})
    return rows


def synthesize_talkers(
    talkers: int, per_talker: int, out_dir: Path, seed: int = 0, pitch_range: tuple[int, int] = (15, 85)
) -> list[dict]:
    """``talkers`` synthetic talkers of ``per_talker`` utterances each, as 22.05 kHz WAVs in ``out_dir``.

    A talker is one voice at one speed and one pitch for all its utterances, as a person keeps theirs, so
    that a separator trained on filled talkers hears one steady voice per talker (``synthesize`` varies
    both per utterance). Rows: path, speaker (``espeak-<voice>-s<speed>-p<pitch>``), text."""
    texts, all_voices = sentences(), voices()
    rng = np.random.default_rng([seed, 11])
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in range(talkers):
        voice = all_voices[int(rng.integers(len(all_voices)))]
        speed, pitch = int(rng.integers(130, 201)), int(rng.integers(pitch_range[0], pitch_range[1] + 1))
        speaker = f"espeak-{voice}-s{speed}-p{pitch}"
        for u in range(per_talker):
            text = texts[int(rng.integers(len(texts)))]
            path = out_dir / f"talker_{t:04d}_{u:02d}.wav"
            _speak(voice, speed, pitch, text, path)
            rows.append({"path": str(path), "speaker": speaker, "text": text})
    return rows


def _speak(voice: str, speed: int, pitch: int, text: str, path: Path) -> None:
    """espeak-ng ``text`` into ``path`` (atomically; kept when already there)."""
    if path.is_file():
        return
    with AtomicFile(path, ".part.wav") as tmp:
        cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(tmp.path), text]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ConfigError(f"espeak-ng -v {voice} failed: {result.stderr.strip()[:160]}")

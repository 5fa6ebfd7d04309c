"""Synthetic speech from espeak-ng: many accent x voice-variant "speakers", for train only.

English text is sentences of the licence texts every Debian system ships (/usr/share/common-licenses);
other languages read the translated messages of the system's gettext catalogues (/usr/share/locale).
Synthetic speech adds variety for pretraining; it is never evaluation material and never the
only training speech, and its manifest entries carry ``"synthetic": true``.
"""

from __future__ import annotations

import gettext
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sepkit.atomic import AtomicFile
from sepkit.errors import ConfigError

LICENSE_DIR = Path("/usr/share/common-licenses")
LICENSE_TEXTS = ("Apache-2.0", "GPL-3", "GFDL-1.3", "MPL-2.0", "Artistic", "LGPL-3")
LOCALE_DIR = Path("/usr/share/locale")
ENGLISH = "en"


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


def translated_sentences(
    language: str, locale_dir: Path = LOCALE_DIR, min_chars: int = 40, max_chars: int = 200
) -> list[str]:
    """Whole translated sentences in ``language`` from the system's gettext catalogues, in a fixed order.

    Messages with placeholders, digits, markup or keyboard accelerators are left out: espeak-ng would read
    them as symbols."""
    out: list[str] = []
    for path in sorted((locale_dir / language / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # the parsed messages; there is no public list
        except (OSError, LookupError, ValueError):  # unreadable, or in a charset Python lacks: skip it
            continue
        for message in catalog.values():
            text = " ".join(message.split()) if isinstance(message, str) else ""
            if (
                "--" not in text
                and min_chars <= len(text) <= max_chars
                and re.fullmatch(r"[^\W\d_](?:[^\W\d_]|[ ,;:'()-])*[.]", text)
            ):
                out.append(text)
    if not out:
        raise ConfigError(f"{locale_dir / language}: no translated sentences to read (install its language packs)")
    return sorted(set(out))


def language_sentences(language: str) -> list[str]:
    """The sentences a ``language`` voice reads: the licences for English, translated messages otherwise."""
    return sentences() if language == ENGLISH else translated_sentences(language)


def voices(language: str = ENGLISH) -> list[str]:
    """espeak-ng voices of ``language`` and its regions x voice variants, e.g. ``en-gb-scotland+Alex``, ``fr-be+Alex``.

    Only voices whose own language it is (not those that merely speak it), and no MBROLA voices (not installable)."""
    accents = sorted(
        {r[1] for r in _voice_rows(language) if r[1].split("-")[0] == language and not r[4].startswith("mb/")}
    )
    if not accents:
        raise ConfigError(f"espeak-ng has no voice for language {language!r}")
    variants = sorted({r[4].split("/", 1)[1] for r in _voice_rows("variant") if r[4].startswith("!v/")})
    return [f"{a}+{v}" for a in accents for v in variants]


def _voice_rows(query: str) -> list[list[str]]:
    """The rows of ``espeak-ng --voices=<query>`` (a language, or "variant"), split into columns (5 or more)."""
    result = subprocess.run(["espeak-ng", f"--voices={query}"], capture_output=True, text=True)
    return [row for row in (line.split() for line in result.stdout.splitlines()[1:]) if len(row) >= 5]


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
    talkers: int,
    per_talker: int,
    out_dir: Path,
    seed: int = 0,
    pitch_range: tuple[int, int] = (15, 85),
    languages: Sequence[str] = (ENGLISH,),
) -> list[dict]:
    """``talkers`` synthetic talkers of ``per_talker`` utterances each, as 22.05 kHz WAVs in ``out_dir``.

    A talker is one voice at one speed and one pitch for all its utterances, as a person keeps theirs, so
    that a separator trained on filled talkers hears one steady voice per talker (``synthesize`` varies
    both per utterance). Each talker draws one of ``languages`` (evenly) and reads that language's
    sentences. Rows: path, speaker (``espeak-<voice>-s<speed>-p<pitch>``), text, lang."""
    languages = list(dict.fromkeys(languages))
    if not languages:
        raise ConfigError("give at least one language for the talkers")
    all_voices = {lang: voices(lang) for lang in languages}
    texts = {lang: language_sentences(lang) for lang in languages}
    rng = np.random.default_rng([seed, 11])
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in range(talkers):
        # one language draws nothing here, so English-only talkers stay the draw they always were
        lang = languages[int(rng.integers(len(languages)))] if len(languages) > 1 else languages[0]
        voice = all_voices[lang][int(rng.integers(len(all_voices[lang])))]
        speed, pitch = int(rng.integers(130, 201)), int(rng.integers(pitch_range[0], pitch_range[1] + 1))
        speaker = f"espeak-{voice}-s{speed}-p{pitch}"
        for u in range(per_talker):
            text = texts[lang][int(rng.integers(len(texts[lang])))]
            path = out_dir / f"talker_{t:04d}_{u:02d}.wav"
            _speak(voice, speed, pitch, text, path)
            rows.append({"path": str(path), "speaker": speaker, "text": text, "lang": lang})
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

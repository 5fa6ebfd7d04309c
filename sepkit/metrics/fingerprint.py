"""Which test set a score came from: a digest of its audio, so scores from two machines compare only when it agrees.

Sets such as the yardstick are rebuilt on every machine from Debian packages; a package update or a
change in decoding would change the set silently. The digest is taken over decoded samples, not file
bytes, so a header difference or a lossless re-encoding keeps it and any changed sample changes it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import numpy as np

from sepkit.audio.io import read_audio
from sepkit.errors import AudioError
from sepkit.metrics.pairing import mixtures, sources
from sepkit.metrics.scoring import ScorePair

SHOWN = 12  # hex digits printed in tables and READMEs; JSON keeps the whole digest


def audio_digest(pairs: Iterable[ScorePair]) -> str:
    """SHA-256 over each pair's stem, mixture and references (samples, shape and rate), in stem order."""
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda p: p.name):
        digest.update(pair.name.encode() + b"\0")
        for path in (pair.mix, *pair.refs):
            if path is None:
                digest.update(b"-")
                continue
            digest.update(_sample_bytes(path))
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 over one file's decoded samples, shape and rate: the same for any lossless copy of them."""
    return hashlib.sha256(_sample_bytes(path)).hexdigest()


def _sample_bytes(path: str | Path) -> bytes:
    """What a digest reads of one file: its rate, shape and samples as little-endian float32."""
    audio, rate = read_audio(path)
    samples = np.ascontiguousarray(audio, dtype="<f4")
    return f"{rate}:{samples.shape[0]}x{samples.shape[1]}:".encode() + samples.tobytes()


def set_pairs(mix_dir: Path, ref_dir: Path) -> list[ScorePair]:
    """Every mixture of ``mix_dir`` with its references in ``ref_dir`` (``AudioError`` if one has none)."""
    mixes = mixtures(mix_dir)
    refs = sources(ref_dir, "reference")
    missing = sorted(set(mixes) - set(refs))
    if missing:
        raise AudioError(f"{mixes[missing[0]]}: no reference {missing[0]!r} in {ref_dir}")
    return [ScorePair(stem, (mix,) * len(refs[stem]), tuple(refs[stem]), mix) for stem, mix in sorted(mixes.items())]


def folder_digest(mix_dir: Path, ref_dir: Path) -> str:
    """The digest that ``sepkit evaluate --mix MIX_DIR --ref REF_DIR`` reports for its test set."""
    return audio_digest(set_pairs(Path(mix_dir), Path(ref_dir)))

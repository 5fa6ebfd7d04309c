"""Pairing estimate files with reference and mixture files by name.

A folder holds one or more *sources* per stem, in one of two layouts:

* names: ``<stem>.wav`` is a single source; ``<stem>_s1.wav, <stem>_s2.wav, ...`` are the
  sources of ``<stem>`` in order (what ``sepkit separate`` writes);
* LibriMix: sub-folders ``s1/, s2/, ...`` each holding ``<stem>.wav`` (other sub-folders, such as
  ``noise/`` or ``mix_clean/``, are ignored).

Estimates and references are paired by exact stem (relative path without extension, so a
``.flac`` reference pairs with a ``.wav`` estimate) and must have the same number of sources.
Mixtures are ``<stem>.<ext>`` in the mixture folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from sepkit.audio.io import AUDIO_EXTENSIONS
from sepkit.errors import AudioError
from sepkit.metrics.scoring import ScorePair

_SOURCE_SUFFIX = re.compile(r"^(?P<stem>.+)_s(?P<k>\d+)$")
_SOURCE_DIR = re.compile(r"^s(?P<k>\d+)$")


def pair_folders(
    est_dir: Path, ref_dir: Path | None = None, mix_dir: Path | None = None
) -> tuple[list[ScorePair], int]:
    """Pairs sorted by stem, and how many reference stems have no estimate; ``AudioError`` on any unmatched estimate."""
    ests = sources(est_dir, "estimate")
    refs = sources(ref_dir, "reference") if ref_dir is not None else None
    mixes = _index(_folder(mix_dir, "mixture")) if mix_dir is not None else None
    pairs: list[ScorePair] = []
    unmatched = sorted(s for s in ests if refs is not None and s not in refs)
    if unmatched:
        more = f" (and {len(unmatched) - 1} more estimates without one)" if len(unmatched) > 1 else ""
        raise AudioError(f"{ests[unmatched[0]][0]}: no reference {unmatched[0]!r} in {ref_dir}{more}")
    for stem, est_files in sorted(ests.items()):
        ref_files = refs[stem] if refs is not None else []
        if refs is not None and len(ref_files) != len(est_files):
            raise AudioError(
                f"{est_files[0]}: {len(est_files)} estimated source(s) for {stem!r} "
                f"but {len(ref_files)} reference(s) in {ref_dir}"
            )
        mix = None
        if mixes is not None:
            if stem not in mixes:
                raise AudioError(f"{est_files[0]}: no mixture {stem!r} in {mix_dir}")
            mix = mixes[stem]
        pairs.append(ScorePair(stem, tuple(est_files), tuple(ref_files), mix))
    extra = len(set(refs) - set(ests)) if refs is not None else 0
    return pairs, extra


def sources(folder: Path, role: str = "audio") -> dict[str, list[Path]]:
    """Stem -> source files in order, for either layout; ``AudioError`` if the folder is missing or empty."""
    root = _folder(folder, role)
    sub = sorted((int(m["k"]), d) for d in root.iterdir() if d.is_dir() and (m := _SOURCE_DIR.match(d.name)))
    found: dict[str, dict[int, Path]] = {}
    if sub:
        for k, d in sub:
            for stem, path in _index(d).items():
                found.setdefault(stem, {})[k] = path
    else:
        for key, path in _index(root).items():
            m = _SOURCE_SUFFIX.match(key)
            stem, k = (m["stem"], int(m["k"])) if m else (key, 0)
            by_k = found.setdefault(stem, {})
            if by_k and (k == 0 or 0 in by_k or k in by_k):
                raise AudioError(f"{path}: {role} {stem!r} is both a single file and split into _sK sources")
            by_k[k] = path
    if not found:
        raise AudioError(f"{root}: no {role} audio files found")
    return {stem: [by_k[k] for k in sorted(by_k)] for stem, by_k in found.items()}


def mixtures(mix_dir: Path) -> dict[str, Path]:
    """Stem -> mixture file of every .wav/.flac/.ogg in ``mix_dir`` (not its sub-folders); ``AudioError`` if none."""
    if not mix_dir.is_dir():
        raise AudioError(f"{mix_dir}: mixture folder not found")
    found = {p.stem: p for p in sorted(mix_dir.iterdir()) if p.suffix.lower() in (".wav", ".flac", ".ogg")}
    if not found:
        raise AudioError(f"{mix_dir}: no audio files (.wav, .flac, .ogg)")
    return found


def _folder(path: Path | None, role: str) -> Path:
    if path is None or not Path(path).is_dir():
        what = "no such folder" if path is None or not Path(path).exists() else "not a folder"
        raise AudioError(f"{path}: {what} (given as the {role} folder)")
    return Path(path)


def _index(folder: Path) -> dict[str, Path]:
    """Relative path without extension -> file, for every audio file under ``folder``."""
    out: dict[str, Path] = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS:
            key = f.relative_to(folder).with_suffix("").as_posix()
            if key in out:
                raise AudioError(f"{f}: same name as {out[key]} with another extension; keep one of them")
            out[key] = f
    return out

"""Rate the files of a manifest with DNSMOS and keep the clean ones: training speech selected by quality.

Corpora of "clean" speech are rarely all clean (the DNS Challenge kept only clips that scored high
on a MOS model). ``rate_manifest`` adds ``dnsmos_ovrl``, ``dnsmos_sig``, ``dnsmos_bak`` and
``dnsmos_p808`` to every entry; ``keep_at_least`` is the filter behind the datasets' ``speech_min``
option (e.g. ``{dnsmos_bak: 3.0}``). Rating writes its output after every chunk, so an interrupted
run resumes: entries of the output that already carry scores for the same file are not rated again.
Scores known from elsewhere (``known``, by path: a ratings table, ``sepkit.data.rating_table``) are
taken as they are.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from sepkit.data.manifest import Entry, read_manifest, write_manifest
from sepkit.errors import AudioError, ManifestError

RATING_KEYS = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808")
# What "clean speech" means throughout sepkit: the training selection of recipes/enhance/wide_clean.yaml
# and the yardstick's reference-quality slice. About half the demo corpus's train speech reaches it.
CLEAN_SPEECH = {"dnsmos_bak": 3.5, "dnsmos_sig": 3.0}
CHUNK = 500  # files rated between two writes of the output


def rate_manifest(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    jobs: int = 1,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    known: Mapping[str, dict[str, float]] | None = None,
) -> tuple[Path, int]:
    """Write ``out``: ``manifest`` with DNSMOS scores on its entries (only ``split``'s, if given).

    Returns the output path and how many files were rated in this call (the rest were already
    rated in ``out`` or given by ``known``). Files of other splits are copied without scores.
    """
    from sepkit.metrics.scoring import single_threaded_pool

    entries = read_manifest(manifest, check=False)
    done = {**(known or {}), **(_previous_scores(Path(out)) if Path(out).is_file() else {})}
    for e in entries:
        if e["path"] in done:
            e.update(done[e["path"]])
    todo = [e for e in entries if (split is None or e["split"] == split) and not rated(e)]
    total = len(todo)
    with single_threaded_pool(jobs) if jobs > 1 and total > 1 else contextlib.nullcontext() as pool:
        for start in range(0, total, CHUNK):
            chunk = todo[start : start + CHUNK]
            paths = [e["path"] for e in chunk]
            for e, scores in zip(chunk, pool.map(rate_file, paths, chunksize=8) if pool else map(rate_file, paths)):
                e.update(scores)
            write_manifest(entries, out)
            if progress:
                progress(min(start + CHUNK, total), total)
    if not total:
        write_manifest(entries, out)
    return Path(out), total


def rate_file(path: str) -> dict[str, float]:
    """DNSMOS of one file (channels averaged), as the ``dnsmos_*`` fields of a rated manifest.

    A file shorter than DNSMOS's 9.01 s window is repeated to exactly one window. (The metric, like
    Microsoft's script, doubles it until it is long enough and averages every 1 s hop: up to 9
    windows of the same repeated clip for a 1 s prompt, 9 times the cost for nearly the same score.)
    """
    from sepkit.audio.io import read_audio
    from sepkit.metrics._common import resample
    from sepkit.metrics.nonintrusive import DNSMOS_RATE, DNSMOS_WINDOW, dnsmos

    audio, rate = read_audio(path)
    if audio.shape[-1] == 0:
        raise AudioError(f"{path}: the file holds no samples, so it cannot be rated")
    rows = []
    for channel in audio:
        x = resample(channel.astype(np.float64), rate, DNSMOS_RATE)
        window = int(DNSMOS_WINDOW * DNSMOS_RATE)
        if 0 < x.shape[0] < window:
            x = np.resize(x, window)
        rows.append(dnsmos(x, DNSMOS_RATE))
    return {f"dnsmos_{k}": round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}


def keep_at_least(entries: list[Entry], minimum: dict[str, float], name: str) -> list[Entry]:
    """Entries whose every field in ``minimum`` is at least its value; an entry without the field is an error."""
    for key in minimum:
        lacking = next((e for e in entries if not isinstance(e.get(key), (int, float))), None)
        if lacking is not None:
            hint = " (rate it first: sepkit data rate)" if key in RATING_KEYS else ""
            raise ManifestError(f"{name}: {lacking['path']} has no numeric {key!r} to filter on{hint}")
    return [e for e in entries if reaches(e, minimum)]


def reaches(scores: dict, minimum: dict[str, float]) -> bool:
    """Whether every field of ``minimum`` in ``scores`` (an entry, or one file's ratings) is at least its value."""
    return all(scores[k] >= v for k, v in minimum.items())


def rated(e: Entry) -> bool:
    """Whether an entry carries every DNSMOS score, all finite."""
    return all(isinstance(e.get(k), (int, float)) and math.isfinite(e[k]) for k in RATING_KEYS)


def _previous_scores(out: Path) -> dict[str, dict[str, float]]:
    """Scores already in an earlier (possibly partial) output, by file path."""
    return {e["path"]: {k: e[k] for k in RATING_KEYS} for e in read_manifest(out, check=False) if rated(e)}

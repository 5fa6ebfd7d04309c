"""DNSMOS ratings kept by the audio they rate, so a corpus rebuilt on another machine is not rated again.

Rating the demo corpus's train speech costs about 45 minutes on 2 cores, and the corpus is rebuilt
from Debian packages on every machine. A rating belongs to the samples, not to a path: the table
keys each file's scores by the digest of its decoded samples (``sepkit.metrics.fingerprint``), so an
identical file anywhere takes its scores from the table and a changed one is rated again. The table
names the scorer that made it, and one made by another scorer is refused rather than mixed in.
"""

from __future__ import annotations

import gzip
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

from sepkit.atomic import AtomicFile
from sepkit.data.manifest import read_manifest
from sepkit.data.quality import RATING_KEYS, rate_manifest, rated
from sepkit.errors import ManifestError

Ratings = dict[str, dict[str, float]]


def scorer() -> str:
    """What makes the scores: DNSMOS P.835 as the installed ``speechmos`` runs it."""
    try:
        return f"speechmos {version('speechmos')} dnsmos"
    except PackageNotFoundError:
        return "speechmos (not installed) dnsmos"


def read_table(path: str | os.PathLike[str]) -> Ratings:
    """The ratings of a table file, by sample digest; ``ManifestError`` if another scorer made it."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            table = json.load(f)
        made_by, rows = table["scorer"], table["ratings"]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: not a ratings table ({exc})") from None
    if made_by != scorer():
        raise ManifestError(f"{path}: its ratings were made by {made_by!r}, not {scorer()!r}; rate without it")
    return {digest: dict(zip(RATING_KEYS, scores)) for digest, scores in rows.items()}


def write_table(path: str | os.PathLike[str], ratings: Ratings) -> Path:
    """Write ``ratings`` (by sample digest) as a gzipped JSON table, atomically; sorted, so equal ratings give equal bytes."""
    rows = {digest: [ratings[digest][k] for k in RATING_KEYS] for digest in sorted(ratings)}
    with AtomicFile(path) as out, open(out.path, "wb") as f:
        # No name and mtime 0 in the gzip header: the same ratings give the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as raw:
            raw.write(json.dumps({"scorer": scorer(), "ratings": rows}).encode())
    return Path(path)


def rate_with_table(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    table: str | os.PathLike[str],
    jobs: int = 1,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, int, int]:
    """``rate_manifest`` that first takes scores from ``table`` (if it exists) and then adds its own to it.

    Returns the rated manifest's path, how many files were rated now, and how many the table gave.
    """
    from sepkit.metrics.fingerprint import file_digest

    ratings = read_table(table) if Path(table).is_file() else {}
    wanted = [e["path"] for e in read_manifest(manifest, check=False) if split is None or e["split"] == split]
    digests = {p: file_digest(p) for p in wanted}
    known = {p: ratings[d] for p, d in digests.items() if d in ratings}
    path, count = rate_manifest(manifest, out, jobs=jobs, split=split, progress=progress, known=known)
    for e in read_manifest(path, check=False):
        if e["path"] in digests and rated(e):
            ratings[digests[e["path"]]] = {k: e[k] for k in RATING_KEYS}
    write_table(table, ratings)
    return path, count, len(known)

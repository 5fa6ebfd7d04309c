"""The yardstick's pool: download its packages, decode the files it uses, label each one (``pool/pool.jsonl``).

Downloads and decoding reuse the demo builder's steps (``apt-get download`` into the shared
``.deb`` cache, ``decode.run_job``); extractions go to their own cache folder, as the yardstick
takes other folders from some of the demo's packages. A finished pool is recorded with a
fingerprint of the catalogue and options, so a rerun skips it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from sepkit.data.demo import fetch
from sepkit.data.demo.build import DEFAULT_CACHE
from sepkit.data.demo.catalog import MAX_SECONDS, MIN_SECONDS, Source, manifest_entry, output_name
from sepkit.data.demo.decode import DecodeJob, run_job
from sepkit.data.manifest import write_manifest
from sepkit.data.yardstick import catalog
from sepkit.data.yardstick.catalog import SOURCES, WIDEBAND_RATE, YardstickSource

Log = Callable[[str], None]
POOL = "pool"
SPEECH_MAX_SECONDS = 8.0  # longer recordings are cut at quiet frames into pieces of about this length


@dataclass(frozen=True)
class PoolOptions:
    """Where downloads are cached and how much of each speaker to decode."""

    cache: Path = DEFAULT_CACHE
    files_per_speaker: int = 60  # tuxpaint has ~900 descriptions per volunteer; a spread-out subset is enough
    jobs: int = 2
    install_tools: bool = True


def build_pool(
    out: Path, opts: PoolOptions = PoolOptions(), sources: tuple[Source, ...] = SOURCES, log: Log = print
) -> list[dict]:
    """Decode the catalogue's files into ``out/pool`` (or reuse a finished pool); returns the pool's entries."""
    manifest, stamp = out / POOL / "pool.jsonl", out / POOL / ".fingerprint"
    fingerprint = _fingerprint(sources, opts)
    if stamp.is_file() and stamp.read_text() == fingerprint and manifest.is_file():
        entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if all(Path(e["path"]).is_file() for e in entries):
            return entries
    fetch.ensure_tools(["apt-get", "dpkg-deb", "tar", "ffmpeg"], opts.install_tools, log)
    shutil.rmtree(out / POOL, ignore_errors=True)
    planned: list[tuple[Source, str, DecodeJob]] = []
    seen: set[str] = set()
    for package in dict.fromkeys(s.package for s in sources):
        mine = [s for s in sources if s.package == package]
        pkg_dir = _extracted(package, mine, opts, log)
        _copy_licence(pkg_dir, package, out)
        for src in mine:
            root = fetch.source_root(pkg_dir, src)
            rels = _unique(root, [r for r in fetch.list_files(pkg_dir, src) if _wanted(src, r)], seen)
            for rel in _per_speaker(src, rels, opts.files_per_speaker):
                planned.append((src, rel, _job(src, rel, root, out)))
    log(f"decoding {len(planned)} files from {len(sources)} sources with {opts.jobs} processes")
    with ProcessPoolExecutor(opts.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_job, [job for _, _, job in planned], chunksize=8))
    entries, skipped = [], defaultdict(int)
    for (src, rel, _), result in zip(planned, results):
        if isinstance(result, str):
            skipped[f"{src.name}: {result.split(' (')[0]}"] += 1
            continue
        entries += [manifest_entry(src, rel, piece, _labels(src, rel)) for piece in result]
    for reason, count in sorted(skipped.items()):
        log(f"  skipped {count} file(s) of {reason}")
    write_manifest(entries, manifest)
    stamp.write_text(fingerprint)
    return entries


def _extracted(package: str, mine: list[Source], opts: PoolOptions, log: Log) -> Path:
    """The package's files: the demo builder's extraction when it holds every folder needed, else our own."""
    shared = opts.cache / "extract" / package
    if shared.is_dir() and all(fetch.source_root(shared, s).is_dir() for s in mine):
        return shared
    deb = fetch.download(package, opts.cache / "debs", log)
    return fetch.extract(deb, package, mine, opts.cache / "extract-yardstick")


def _wanted(src: Source, rel: str) -> bool:
    """Noise files need a family; speech and RIRs are taken as the pattern selects them."""
    return src.kind not in ("noise", "music") or (isinstance(src, YardstickSource) and src.family_of(rel) is not None)


def _unique(root: Path, rels: list[str], seen: set[str]) -> list[str]:
    """``rels`` without byte-identical copies of files already taken (tuxpaint ships letters twice)."""
    kept = []
    for rel in rels:
        digest = hashlib.md5((root / rel).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            kept.append(rel)
    return kept


def _per_speaker(src: Source, rels: list[str], limit: int) -> list[str]:
    """At most ``limit`` files per speaker, a deterministic spread-out choice (all files of other kinds)."""
    if src.kind != "speech" or src.speaker is None:
        return rels
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for rel in sorted(rels, key=lambda r: hashlib.sha1(r.encode()).hexdigest()):
        by_speaker[src.speaker(rel) or ""].append(rel)
    return sorted(r for group in by_speaker.values() for r in group[:limit])


def _job(src: Source, rel: str, root: Path, out: Path) -> DecodeJob:
    """Decode one file into ``out/pool/audio/<kind>/<split>/<source>/``: speech at its source's rate, else 16 kHz."""
    name = out / POOL / output_name(src, rel)
    rate = src.rate if isinstance(src, YardstickSource) and src.kind == "speech" else WIDEBAND_RATE
    return DecodeJob(
        src=str(root / rel),
        out_dir=str(name.parent),
        stem=name.stem,
        ext=name.suffix[1:],
        kind=src.kind,
        sample_rate=rate,
        min_seconds=MIN_SECONDS[src.kind],
        max_seconds=SPEECH_MAX_SECONDS if src.kind == "speech" else MAX_SECONDS[src.kind],
        min_source_rate=WIDEBAND_RATE if src.kind == "speech" and rate == WIDEBAND_RATE else 0,
    )


def _labels(src: Source, rel: str) -> dict:
    """What a pool entry carries beyond ``manifest_entry``'s fields: language or noise family, whether a RIR is real."""
    labels: dict = {}
    if isinstance(src, YardstickSource):
        if src.kind == "speech":
            labels["lang"] = src.language(rel)
        else:
            labels["family"] = src.family_of(rel)
    if src.kind == "rir":
        labels["real"] = True
    return labels


def _copy_licence(pkg_dir: Path, package: str, out: Path) -> None:
    """Keep the package's copyright file with the set (several are CC-BY-SA)."""
    copyright_file = pkg_dir / "usr/share/doc" / package / "copyright"
    if copyright_file.is_file():
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, out / "licenses" / f"{package}.copyright")


def _fingerprint(sources: tuple[Source, ...], opts: PoolOptions) -> str:
    """Changes with the sources, the options or the catalogue's labelling rules (its source text)."""
    described = [{k: v for k, v in asdict(s).items() if not callable(v)} for s in sources]
    digest = hashlib.sha1(
        json.dumps(
            [described, opts.files_per_speaker, SPEECH_MAX_SECONDS, MIN_SECONDS, MAX_SECONDS, WIDEBAND_RATE],
            sort_keys=True,
            default=str,
        ).encode()
    )
    digest.update(Path(catalog.__file__).read_bytes())
    return digest.hexdigest()

"""Build the demo corpus: download, extract, decode, simulate RIRs, write manifests, README, fixed sets.

Everything lands under OUT: ``audio/<kind>/<split>/<source>/``, ``manifests/<kind>.jsonl``,
``licenses/<package>.copyright``, ``README.md``, ``summary.json`` and ``fixed/``. Each source's
result is recorded in ``OUT/.state/`` once complete, so a rerun skips finished work.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import soundfile as sf

from sepkit.atomic import AtomicFile
from sepkit.data.demo import catalog, fetch, readme
from sepkit.data.demo.catalog import MAX_SECONDS, MIN_SECONDS, SOURCES, SPLIT_ORDER, Source, manifest_entry
from sepkit.data.demo.decode import DecodeJob, run_job
from sepkit.data.demo.rirs import RirJob, simulate
from sepkit.data.manifest import write_manifest
from sepkit.errors import ConfigError

Log = Callable[[str], None]
DEFAULT_CACHE = Path("~/.cache/sepkit").expanduser()


@dataclass(frozen=True)
class DemoOptions:
    """What to build and where; the defaults build the full corpus."""

    out: Path
    cache: Path = DEFAULT_CACHE  # debs/, extract/ and espeak/ go here
    sample_rate: int = 16000
    hours_limit: float | None = None  # at most this many hours from each source (quick builds)
    exclude: tuple[str, ...] = ()  # packages to leave out
    simulated_rirs: dict[str, int] = field(default_factory=lambda: {"train": 240, "dev": 30, "test": 30})
    synthetic: int = 300  # espeak-ng utterances (train only); 0 = none
    fixed_sets: bool = True
    jobs: int = 2
    seed: int = 0
    install_tools: bool = True


def build_demo(opts: DemoOptions, log: Log = print) -> dict:
    """Build (or finish building) the corpus in ``opts.out``; returns the summary."""
    out = Path(opts.out).resolve()
    fetch.ensure_tools(
        ["apt-get", "dpkg-deb", "tar", "ffmpeg"] + (["espeak-ng"] if opts.synthetic else []), opts.install_tools, log
    )
    sources = [s for s in SOURCES if s.package not in opts.exclude]
    entries: list[dict] = []
    pending: list[tuple[Source, list[DecodeJob], list[str]]] = []
    seen: set[str] = set()
    for src in sorted(sources, key=lambda s: SPLIT_ORDER.index(s.split)):  # duplicates stay in test, then dev
        files = _files(src, opts, out, seen, log)
        cached = _load_state(out, src.name, _config(src, opts))
        if cached is not None:
            entries += cached
            continue
        pending.append((src, [_job(src, rel, root, opts, out) for rel, root in files], [rel for rel, _ in files]))
    entries += _decode_all(pending, opts, out, log)
    entries += _simulated_rirs(opts, out, log)
    synthetic = _synthetic(opts, out, log) if opts.synthetic else []
    manifests = _write_manifests(entries, synthetic, out)
    _remove_stale(out, entries + synthetic, log)
    summary = readme.summarize(entries + synthetic)
    log(readme.table(summary))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    readme.write_readme(out, summary, sources, opts)
    if opts.fixed_sets:
        from sepkit.data.demo.fixed import build_fixed_sets

        build_fixed_sets(out, manifests, opts.seed, log)
    return summary


def _files(src: Source, opts: DemoOptions, out: Path, seen: set[str], log: Log) -> list[tuple[str, Path]]:
    """The source's files (relative path, root folder), without byte-identical duplicates of files in ``seen``."""
    pkg_dir = fetch.extract(
        fetch.download(src.package, opts.cache / "debs", log),
        src.package,
        [s for s in SOURCES if s.package == src.package],
        opts.cache / "extract",
    )
    copyright_file = pkg_dir / "usr/share/doc" / src.package / "copyright"
    if copyright_file.is_file():
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, out / "licenses" / f"{src.package}.copyright")
    root = fetch.source_root(pkg_dir, src)
    kept, files = [], fetch.list_files(pkg_dir, src)
    for rel in files:
        digest = hashlib.md5((root / rel).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            kept.append(rel)
    if len(kept) < len(files):
        log(f"  {src.name}: {len(files) - len(kept)} byte-identical duplicate(s) of earlier files left out")
    if opts.hours_limit is not None:
        kept = _limit(kept, root, opts.hours_limit * 3600)
    return [(rel, root) for rel in kept]


def _limit(rels: list[str], root: Path, seconds: float) -> list[str]:
    """A deterministic, spread-out subset of files adding up to about ``seconds``."""
    chosen, total = [], 0.0
    for rel in sorted(rels, key=lambda r: hashlib.sha1(r.encode()).hexdigest()):
        if total >= seconds:
            break
        chosen.append(rel)
        total += _seconds(root / rel)
    return sorted(chosen)


def _seconds(path: Path) -> float:
    """Duration from the header (G.722: 8000 bytes a second); 0 for files libsndfile cannot read."""
    if path.suffix == ".g722":
        return path.stat().st_size / 8000
    try:
        return sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError):
        return 0.0


def _job(src: Source, rel: str, root: Path, opts: DemoOptions, out: Path) -> DecodeJob:
    name = catalog.output_name(src, rel)
    return DecodeJob(
        src=str(root / rel),
        out_dir=str(out / Path(name).parent),
        stem=Path(name).stem,
        ext=Path(name).suffix[1:],
        kind=src.kind,
        sample_rate=opts.sample_rate,
        min_seconds=MIN_SECONDS[src.kind],
        max_seconds=MAX_SECONDS[src.kind],
        min_source_rate=16000 if src.kind == "speech" else 0,
    )


def _decode_all(
    pending: list[tuple[Source, list[DecodeJob], list[str]]], opts: DemoOptions, out: Path, log: Log
) -> list[dict]:
    """Decode every pending source's files in a process pool; record each source when done."""
    jobs = [j for _, js, _ in pending for j in js]
    if not jobs:
        return []
    log(f"decoding {len(jobs)} files from {len(pending)} sources with {opts.jobs} processes")
    start, results = time.time(), []
    with ProcessPoolExecutor(opts.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for n, result in enumerate(pool.map(run_job, jobs, chunksize=16), 1):
            results.append(result)
            if n % 1000 == 0 or n == len(jobs):
                log(f"  {n}/{len(jobs)} files decoded ({time.time() - start:.0f} s)")
    entries, at = [], 0
    for src, js, rels in pending:
        mine, skipped = [], defaultdict(int)
        for rel, result in zip(rels, results[at : at + len(js)]):
            if isinstance(result, str):
                skipped[result.split(" (")[0]] += 1
                continue
            mine += [manifest_entry(src, rel, piece, _labels(src)) for piece in result]
        at += len(js)
        if skipped:
            log(
                f"  {src.name}: skipped {sum(skipped.values())} file(s): "
                + ", ".join(f"{k} x{v}" for k, v in sorted(skipped.items()))
            )
        _save_state(out, src.name, _config(src, opts), mine)
        entries += mine
    return entries


def _labels(src: Source) -> dict:
    """What a demo entry carries beyond ``manifest_entry``'s fields: the source's language, whether a RIR is real."""
    labels: dict = {}
    if src.lang:
        labels["lang"] = src.lang
    if src.real_rir:
        labels["real"] = True
    return labels


def _simulated_rirs(opts: DemoOptions, out: Path, log: Log) -> list[dict]:
    config = {"counts": opts.simulated_rirs, "seed": opts.seed, "sample_rate": opts.sample_rate}
    cached = _load_state(out, "simulated-rirs", config)
    if cached is not None:
        return cached
    jobs = [
        RirJob(
            str(out / f"audio/rir/{split}/simulated/room_{split}_{i:04d}.wav"), split, i, opts.seed, opts.sample_rate
        )
        for split, n in opts.simulated_rirs.items()
        for i in range(n)
    ]
    log(f"simulating {len(jobs)} room impulse responses with pyroomacoustics")
    with ProcessPoolExecutor(opts.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pieces = list(pool.map(simulate, jobs, chunksize=4))
    entries = [
        {
            "path": p.pop("path"),
            "duration": p.pop("duration"),
            "sample_rate": p.pop("sample_rate"),
            "speaker": None,
            "split": j.split,
            "kind": "rir",
            "source": "pyroomacoustics",
            "real": False,
            **p,
        }
        for j, p in zip(jobs, pieces)
    ]
    _save_state(out, "simulated-rirs", config, entries)
    return entries


def _synthetic(opts: DemoOptions, out: Path, log: Log) -> list[dict]:
    from sepkit.data.demo.synthetic import synthesize

    config = {"n": opts.synthetic, "seed": opts.seed, "sample_rate": opts.sample_rate}
    cached = _load_state(out, "espeak-ng", config)
    if cached is not None:
        return cached
    log(f"synthesizing {opts.synthetic} espeak-ng utterances (train only)")
    rows = synthesize(opts.synthetic, opts.cache / "espeak", opts.seed)
    entries = synthetic_entries(rows, out / "audio/speech/train/espeak-ng", opts.sample_rate)
    _copy_espeak_licence(out)
    _save_state(out, "espeak-ng", config, entries)
    return entries


def _copy_espeak_licence(out: Path) -> None:
    """Keep espeak-ng-data's copyright file beside audio made with its voices (``out/licenses``)."""
    copyright_file = Path("/usr/share/doc/espeak-ng-data/copyright")
    if copyright_file.is_file():
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, out / "licenses" / "espeak-ng-data.copyright")


def synthetic_entries(rows: list[dict], out_dir: Path, sample_rate: int) -> list[dict]:
    """Decode espeak-ng utterances (``synthesize*`` rows) into ``out_dir`` at ``sample_rate``: train-only,
    ``"synthetic": true`` speech manifest entries."""
    entries = []
    for row in rows:
        job = DecodeJob(
            row["path"],
            str(out_dir),
            Path(row["path"]).stem,
            "flac",
            "speech",
            sample_rate,
            MIN_SECONDS["speech"],
            MAX_SECONDS["speech"],
        )
        result = run_job(job)
        for piece in result if isinstance(result, list) else []:
            entries.append(
                {
                    "path": piece["path"],
                    "duration": piece["duration"],
                    "sample_rate": piece["sample_rate"],
                    "speaker": row["speaker"],
                    "split": "train",
                    "kind": "speech",
                    "source": "espeak-ng",
                    "package": "espeak-ng-data",
                    "synthetic": True,
                    "text": row["text"],
                    "lang": row.get("lang", "en"),
                }
            )
    return entries


def build_talkers(
    out: Path,
    talkers: int,
    per_talker: int,
    seed: int = 0,
    sample_rate: int = 16000,
    cache: Path = DEFAULT_CACHE,
    languages: Sequence[str] = ("en",),
) -> Path:
    """Synthetic talkers (``synthesize_talkers``) decoded into ``out/audio`` with their manifest
    ``out/talkers.jsonl``: extra, steady voices that a training config can add to its real speech."""
    from sepkit.data.demo.synthetic import ENGLISH, synthesize_talkers

    fetch.ensure_tools(["espeak-ng"], install=False)
    # cached audio is reused only for the same draw: the talkers' voices depend on all these numbers
    draw = f"seed{seed}-{talkers}x{per_talker}"
    if list(languages) != [ENGLISH]:
        draw += "-" + "-".join(languages)
    raw = cache / "espeak-talkers" / draw
    rows = synthesize_talkers(talkers, per_talker, raw, seed, languages=languages)
    entries = synthetic_entries(rows, out / "audio", sample_rate)
    if not entries:
        raise ConfigError("espeak-ng produced no usable utterances")
    _copy_espeak_licence(out)
    path = out / "talkers.jsonl"
    write_manifest(entries, path)
    return path


def _write_manifests(entries: list[dict], synthetic: list[dict], out: Path) -> dict[str, Path]:
    """``manifests/<kind>.jsonl`` (every split in one file) and ``manifests/speech_synthetic.jsonl``."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_kind[e["kind"]].append(e)
    if synthetic:
        by_kind["speech_synthetic"] = synthetic
    order = {s: i for i, s in enumerate(("train", "dev", "test"))}
    return {
        kind: write_manifest(
            sorted(rows, key=lambda e: (order[e["split"]], e["path"])), out / "manifests" / f"{kind}.jsonl"
        )
        for kind, rows in sorted(by_kind.items())
    }


def _remove_stale(out: Path, entries: list[dict], log: Log) -> None:
    """Delete ``audio/<kind>/<split>/<source>`` folders no current entry lives in (left by older catalogues)."""
    live = {Path(e["path"]).parent for e in entries}
    for folder in sorted(p for p in out.glob("audio/*/*/*") if p.is_dir()):
        if folder not in live:
            log(f"removing {folder} (not part of the corpus any more)")
            shutil.rmtree(folder)


def _config(src: Source, opts: DemoOptions) -> dict:
    return {
        "source": {k: v for k, v in asdict(src).items() if k != "speaker"},
        "hours_limit": opts.hours_limit,
        "sample_rate": opts.sample_rate,
        "exclude": sorted(opts.exclude),
    }


def _load_state(out: Path, name: str, config: dict) -> list[dict] | None:
    """The recorded entries of a finished step, if it was done with the same configuration."""
    path = out / ".state" / f"{name}.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    if state.get("config") != json.loads(json.dumps(config)):
        return None
    return state["entries"] if all(os.path.isfile(e["path"]) for e in state["entries"]) else None


def _save_state(out: Path, name: str, config: dict, entries: Iterable[dict]) -> None:
    path = out / ".state" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path) as out:
        out.path.write_text(json.dumps({"config": config, "entries": list(entries)}))

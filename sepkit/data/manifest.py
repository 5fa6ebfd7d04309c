"""JSONL manifests: one line per audio file (files) or per mixture (mixtures), validated on read.

A file manifest line is ``{"path", "duration", "sample_rate", "speaker", "split", "kind"}`` plus any
extra keys. A mixture manifest line is ``{"id", "mixture", "sources", "noise", "duration",
"sample_rate"}`` plus extra keys (the sampled parameters). Paths are absolute. Every problem is
raised as a one-line ``ManifestError`` that names the manifest, the line and the file.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import soundfile as sf

from sepkit.atomic import AtomicFile
from sepkit.audio.io import audio_info
from sepkit.errors import AudioError, ManifestError

SPLITS = ("train", "dev", "test")
KINDS = ("speech", "noise", "rir", "music")
MAX_LISTED = 3  # bad files named in one error line
DURATION_TOLERANCE = 0.02  # seconds (plus 1 %) between the manifest and the file header

Entry = dict[str, Any]


def read_manifest(path: str | os.PathLike[str], check: bool = True) -> list[Entry]:
    """Validated entries of a file manifest; with ``check`` every file's header (and end) must read."""
    entries = [_validate_entry(path, n, obj) for n, obj in _read_jsonl(path)]
    if check:
        _check_files(path, [(n, e) for n, e in enumerate(entries, 1)])
    return entries


def read_mixture_manifest(path: str | os.PathLike[str], check: bool = True) -> list[Entry]:
    """Validated entries of a mixture manifest (fixed sets, LibriMix); ``check`` verifies every file."""
    entries = [_validate_mixture(path, n, obj) for n, obj in _read_jsonl(path)]
    if check:
        files = []
        for n, e in enumerate(entries, 1):
            paths = [e["mixture"], *e["sources"]] + ([e["noise"]] if e.get("noise") else [])
            files += [(n, {"path": p}) for p in paths]
        _check_files(path, files)
    return entries


def write_manifest(entries: Iterable[Entry], path: str | os.PathLike[str]) -> Path:
    """Write entries as JSONL atomically (temporary file renamed into place)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(out) as tmp, open(tmp.path, "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False, sort_keys=False) + "\n")
    return out


def file_entry(path: str | os.PathLike[str], split: str, kind: str, speaker: str | None = None, **extra: Any) -> Entry:
    """A manifest entry for an existing audio file, with duration and rate read from its header."""
    info = audio_info(path)
    entry: Entry = {
        "path": str(Path(path).resolve()),
        "duration": round(info.duration, 4),
        "sample_rate": info.sample_rate,
        "speaker": speaker,
        "split": split,
        "kind": kind,
    }
    entry.update(extra)
    return entry


def select(entries: Iterable[Entry], split: str | None = None, kind: str | None = None) -> list[Entry]:
    """Entries of one split and/or kind (``None`` keeps all)."""
    return [e for e in entries if (split is None or e["split"] == split) and (kind is None or e["kind"] == kind)]


def _read_jsonl(path: str | os.PathLike[str]) -> list[tuple[int, Any]]:
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"{p}: no such manifest file")
    rows = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{p}: line {n}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not rows:
        raise ManifestError(f"{p}: manifest is empty")
    return rows


def _validate_entry(path: str | os.PathLike[str], n: int, obj: Any) -> Entry:
    where = f"{path}: line {n}"
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("path", "duration", "sample_rate", "speaker", "split", "kind") if k not in obj]
    if missing:
        raise ManifestError(f"{where}: missing key(s) {', '.join(missing)}")
    if not isinstance(obj["path"], str) or not os.path.isabs(obj["path"]):
        raise ManifestError(f"{where}: 'path' must be an absolute path string, got {obj['path']!r}")
    if not _is_number(obj["duration"]) or obj["duration"] <= 0:
        raise ManifestError(f"{where}: 'duration' must be a positive number of seconds, got {obj['duration']!r}")
    if not isinstance(obj["sample_rate"], int) or isinstance(obj["sample_rate"], bool) or obj["sample_rate"] <= 0:
        raise ManifestError(f"{where}: 'sample_rate' must be a positive integer, got {obj['sample_rate']!r}")
    if obj["speaker"] is not None and not isinstance(obj["speaker"], str):
        raise ManifestError(f"{where}: 'speaker' must be a string or null, got {obj['speaker']!r}")
    if obj["split"] not in SPLITS:
        raise ManifestError(f"{where}: 'split' must be one of {', '.join(SPLITS)}, got {obj['split']!r}")
    if obj["kind"] not in KINDS:
        raise ManifestError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {obj['kind']!r}")
    return obj


def _validate_mixture(path: str | os.PathLike[str], n: int, obj: Any) -> Entry:
    where = f"{path}: line {n}"
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("id", "mixture", "sources", "duration", "sample_rate") if k not in obj]
    if missing:
        raise ManifestError(f"{where}: missing key(s) {', '.join(missing)}")
    paths = [obj["mixture"], *(obj["sources"] if isinstance(obj["sources"], list) else [None])]
    if obj.get("noise") is not None:
        paths.append(obj["noise"])
    if not obj["sources"] or not all(isinstance(p, str) and os.path.isabs(p) for p in paths):
        raise ManifestError(f"{where}: 'mixture', 'sources' (a non-empty list) and 'noise' must be absolute paths")
    if not _is_number(obj["duration"]) or obj["duration"] <= 0 or not isinstance(obj["sample_rate"], int):
        raise ManifestError(f"{where}: 'duration' must be positive seconds and 'sample_rate' an integer")
    return obj


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_files(manifest: str | os.PathLike[str], rows: list[tuple[int, Entry]]) -> None:
    """Raise one ManifestError listing the first few unreadable files (missing, corrupt, truncated)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = list(pool.map(lambda row: _file_problem(row[1]), rows))
    bad = [(n, e["path"], p) for (n, e), p in zip(rows, problems) if p]
    if bad:
        listed = "; ".join(f"line {n}: {path} ({why})" for n, path, why in bad[:MAX_LISTED])
        more = f"; and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise ManifestError(f"{manifest}: {len(bad)} bad audio file(s): {listed}{more}")


def _file_problem(entry: Entry) -> str | None:
    """Why a listed file is unusable (header, end of data, duration), or None."""
    try:
        info = audio_info(entry["path"])
    except AudioError as exc:
        return str(exc).split(": ", 1)[-1]
    try:  # reading the last frames catches truncated compressed files whose header still looks whole
        with sf.SoundFile(str(info.path)) as f:
            f.seek(max(0, info.frames - 256))
            if f.read(256, dtype="float32").shape[0] == 0:
                return "no data at the end: truncated"
    except (sf.LibsndfileError, RuntimeError) as exc:
        return f"truncated or corrupt ({' '.join(str(exc).split())[:80]})"
    if "duration" in entry and abs(info.duration - entry["duration"]) > DURATION_TOLERANCE + 0.01 * entry["duration"]:
        return f"header says {info.duration:.3f} s, manifest says {entry['duration']:.3f} s: truncated or replaced"
    if "sample_rate" in entry and info.sample_rate != entry["sample_rate"]:
        return f"header says {info.sample_rate} Hz, manifest says {entry['sample_rate']} Hz"
    return None

"""Scores kept between ``sepkit evaluate`` runs, so the baselines beside a new model are not run and scored again.

A judging run spends most of its time on systems that have not changed since the last one (the shipped
model, RNNoise, DeepFilterNet3, the unprocessed input). Their per-file scores are kept under a key that
names everything a score depends on: the system's content (a model folder's weights and config, or a
peer package's version), the test set's audio digest, the metrics, the device, the versions of the
packages that compute them and a digest of sepkit's own source. Any change to one of these is a new
key, so a reused score is the score a fresh run would give; what a reused system cannot give is its
speed, which is measured only in the run that ran it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from sepkit.atomic import AtomicFile
from sepkit.pretrained import CONFIG_FILE

CACHE_ENV = "SEPKIT_CACHE"  # the cache root; scores live in its scores/ folder
FORMAT = 1  # bumped when the layout of an entry changes
# packages whose versions decide a score: the runtime, the metrics and what they load
SCORING_PACKAGES = ("torch", "torchaudio", "numpy", "scipy", "soundfile", "pesq", "pystoi", "speechmos", "onnxruntime")


def cache_root() -> Path:
    """``$SEPKIT_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/sepkit`` (created when first written)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "sepkit"


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 over every ``.py`` file of the installed sepkit package: any code change makes new keys."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"absent"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def folder_identity(model_dir: Path) -> str:
    """SHA-256 over a model folder's files that decide its output (weights and ``config.json``).

    ``config.json``'s ``name`` is left out: a candidate renamed to the shipped name, or a shipped model retired
    under a new one, computes the same outputs and keeps its cached scores.
    """
    digest = hashlib.sha256()
    for path in sorted(
        p for p in model_dir.iterdir() if p.is_file() and p.suffix in (".safetensors", ".json", ".onnx")
    ):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(_output_bytes(path)).digest())
    return digest.hexdigest()


def _output_bytes(path: Path) -> bytes:
    """What of a model file decides its output: the whole file, or a config with its ``name`` dropped."""
    data = path.read_bytes()
    if path.name != CONFIG_FILE:
        return data
    try:
        config = json.loads(data)
    except ValueError:  # unreadable here: its bytes stand, and loading the model reports it
        return data
    if isinstance(config, dict):
        config.pop("name", None)
    return json.dumps(config, sort_keys=True).encode()


class ScoreCache:
    """Per-file scores of one system on one test set, read and written by key under ``root/scores/``."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / "scores"

    @staticmethod
    def key(system: dict[str, str], test_set: str, metrics: list[str], device: str) -> dict[str, Any]:
        """Everything a score depends on, as a JSON-able record (its digest is the entry's file name)."""
        return {
            "format": FORMAT,
            "system": system,
            "test_set": test_set,
            "metrics": list(metrics),
            "device": device,
            "sepkit_source": source_digest(),
            "packages": {name: package_version(name) for name in SCORING_PACKAGES},
        }

    def _path(self, key: dict[str, Any]) -> Path:
        name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return self.folder / name[:2] / f"{name}.json"

    def load(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The entry stored under ``key`` (``means`` and ``rows``), or None; an unreadable entry counts as none."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if entry.get("key") != key or not isinstance(entry.get("rows"), dict):
            return None  # a digest collision or a damaged file: run the system again
        return entry

    def store(self, key: dict[str, Any], means: dict[str, float], rows: dict[str, dict[str, float]]) -> Path:
        """Write an entry atomically (a reader never sees half of it)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(path) as out:
            out.path.write_text(json.dumps({"key": key, "means": means, "rows": rows}, allow_nan=True))
        return path

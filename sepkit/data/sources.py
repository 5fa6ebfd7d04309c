"""A pool of manifest entries read as mono crops at one sample rate, optionally cached in memory.

Crops of files at another rate are read with some context and resampled with torchaudio; their
start is aligned to the resampling period (a few ms at most), so a crop equals the same span of
the whole resampled file to float rounding, cached or not.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from sepkit.audio.resample import resample
from sepkit.data.manifest import Entry, read_manifest, select
from sepkit.data.quality import keep_at_least
from sepkit.errors import AudioError, ManifestError

ManifestLike = str | os.PathLike[str] | list[Entry] | list[str | os.PathLike[str]]  # several files: their union
_CONTEXT = 64  # input samples of context kept on each side of a resampled crop


def load_entries(
    manifest: ManifestLike,
    split: str | None = None,
    kind: str | None = None,
    check: bool = False,
    minimum: dict[str, float] | None = None,
) -> list[Entry]:
    """Entries from a manifest path, a list of paths (their union: e.g. noise and music as one noise
    pool) or an entry list, restricted to one split/kind and to fields at least ``minimum``
    (e.g. ``{"dnsmos_bak": 3.0}`` on a rated manifest); never empty."""
    paths = [manifest] if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    if paths and all(isinstance(p, (str, os.PathLike)) for p in paths):
        entries = [e for p in paths for e in read_manifest(p, check=check)]
        name = " + ".join(str(p) for p in paths)
    else:
        entries, name = paths, "entry list"
    chosen = select(entries, split, kind)
    if not chosen:
        raise ManifestError(f"{name}: no entries with split={split!r} kind={kind!r} ({len(entries)} entries in all)")
    if minimum:
        kept = keep_at_least(chosen, minimum, name)
        if not kept:
            raise ManifestError(
                f"{name}: none of the {len(chosen)} entries of split={split!r} has "
                + ", ".join(f"{k} >= {v}" for k, v in minimum.items())
            )
        chosen = kept
    return chosen


class AudioPool:
    """Mono crops of the files of a manifest at ``sample_rate``."""

    def __init__(self, entries: list[Entry], sample_rate: int, cache: bool = False):
        self.entries = entries
        self.sample_rate = sample_rate
        self.cache = cache
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def frames(self, i: int) -> int:
        """Length of file ``i`` in samples at the pool's rate (from the manifest)."""
        e = self.entries[i]
        return max(1, math.ceil(round(e["duration"] * e["sample_rate"]) * self.sample_rate / e["sample_rate"]))

    def path(self, i: int) -> str:
        """Path of file ``i`` (for the provenance recorded in items)."""
        return self.entries[i]["path"]

    def aligned(self, i: int, start: int) -> int:
        """``start`` moved down to where an exact resampled crop of file ``i`` can begin."""
        file_sr = self.entries[i]["sample_rate"]
        period = self.sample_rate // math.gcd(file_sr, self.sample_rate)
        return start - start % period

    def crop(self, i: int, start: int, length: int) -> torch.Tensor:
        """Samples ``[start, start + length)`` of file ``i`` (start aligned), zero-padded past the end."""
        start = self.aligned(i, start)
        if self.cache:
            wav = self.load(i)[start : start + length]
        else:
            wav = self._read_crop(i, start, length)
        if wav.shape[0] < length:
            wav = torch.nn.functional.pad(wav, (0, length - wav.shape[0]))
        return wav[:length]

    def load(self, i: int) -> torch.Tensor:
        """The whole file at the pool's rate (kept in memory when ``cache``)."""
        if i in self._cache:
            return self._cache[i]
        wav = resample(self._read(i, 0, -1), self.entries[i]["sample_rate"], self.sample_rate)
        if self.cache:
            self._cache[i] = wav
        return wav

    def _read_crop(self, i: int, start: int, length: int) -> torch.Tensor:
        file_sr = self.entries[i]["sample_rate"]
        if file_sr == self.sample_rate:
            return self._read(i, start, start + length)
        g = math.gcd(file_sr, self.sample_rate)
        p_in, p_out = file_sr // g, self.sample_rate // g
        ctx = p_in * math.ceil(_CONTEXT / p_in)
        a = start // p_out * p_in  # exact: start is a multiple of p_out
        b = a + math.ceil(length * file_sr / self.sample_rate) + ctx
        lead = min(ctx, a)
        wav = resample(self._read(i, a - lead, b), file_sr, self.sample_rate)
        skip = lead // p_in * p_out
        return wav[skip : skip + length]

    def _read(self, i: int, start: int, stop: int) -> torch.Tensor:
        path = Path(self.entries[i]["path"])
        try:
            data, sr = sf.read(str(path), start=start, stop=None if stop < 0 else stop, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(f"{path}: cannot read ({' '.join(str(exc).split())[:120]})") from exc
        if sr != self.entries[i]["sample_rate"]:
            raise AudioError(f"{path}: file is {sr} Hz but the manifest says {self.entries[i]['sample_rate']} Hz")
        return torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))

"""Fixed evaluation sets: the first N items of a mixing dataset on disk, and a dataset reading them back.

Layout (LibriMix style): ``mix/<id>.wav``, ``s1/<id>.wav`` (``s2/`` ... for K > 1), ``noise/<id>.wav``
when noise was added, and ``manifest.jsonl`` (one mixture per line, with the sampled parameters
and source files). Files are float32 WAV by default, so the references are exact; the same
dataset and seed give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sepkit.audio.io import read_audio, write_audio
from sepkit.audio.resample import resample
from sepkit.data.manifest import Entry, read_mixture_manifest, write_manifest
from sepkit.errors import ManifestError, OutputError

MANIFEST = "manifest.jsonl"


def write_fixed_set(
    dataset: Dataset,
    out_dir: str | os.PathLike[str],
    n: int,
    subtype: str = "FLOAT",
    split: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write items ``0 .. n-1`` of ``dataset`` (at epoch 0) as a LibriMix-style folder; returns the manifest.

    An existing set in ``out_dir`` is refused unless ``overwrite``, which removes it first (so no
    item of an older, larger set is left behind).
    """
    out = Path(out_dir).resolve()
    old = [out / MANIFEST, out / "mix", out / "noise", *out.glob("s[0-9]*")]
    if any(p.exists() for p in old):
        if not overwrite:
            raise OutputError(f"{out}: already holds a fixed set (use overwrite=True to replace it)")
        for p in old:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(0)
    n_items = len(dataset)  # type: ignore[arg-type]
    if n > n_items:
        raise ManifestError(f"{out}: asked for {n} items but the dataset has {n_items}")
    sample_rate = int(dataset.sample_rate)  # type: ignore[attr-defined]
    rows = []
    for index in range(n):
        item = dataset[index]
        uid = f"{index:06d}"
        paths = {"mixture": out / "mix" / f"{uid}.wav"}
        write_audio(paths["mixture"], item["mixture"].numpy(), sample_rate, subtype)
        sources = []
        for k, src in enumerate(item["sources"], 1):
            sources.append(write_audio(out / f"s{k}" / f"{uid}.wav", src.numpy(), sample_rate, subtype))
        noise = None
        if math.isfinite(item["snr_db"]):
            noise = write_audio(out / "noise" / f"{uid}.wav", item["noise"].numpy(), sample_rate, subtype)
        rows.append(
            {
                "id": uid,
                "mixture": str(paths["mixture"]),
                "sources": [str(s) for s in sources],
                "noise": str(noise) if noise else None,
                "duration": round(item["mixture"].shape[-1] / sample_rate, 6),
                "sample_rate": sample_rate,
                "split": split or getattr(dataset, "split", None),
                "snr_db": item["snr_db"] if math.isfinite(item["snr_db"]) else None,
                "level_db": round(item["level_db"], 4),
                "gains_db": [round(float(g), 4) for g in item["gains_db"]],
                "reverberant": bool(item["reverberant"]),
                **_plain(item.get("info", {})),
            }
        )
    return write_manifest(rows, out / MANIFEST)


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    """Info values as JSON-friendly Python values."""
    return {k: (v.tolist() if isinstance(v, (torch.Tensor, np.ndarray)) else v) for k, v in info.items()}


class FixedSetDataset(Dataset):
    """Mixtures from a fixed-set folder (``mix/``, ``s1/`` ..., ``noise/``) or a mixture manifest.

    A folder is read by its layout (so it can be moved); its ``manifest.jsonl``, when present, adds
    the sampled parameters. ``mix_dir`` picks e.g. ``mix_both`` in a LibriMix subset folder.
    Items hold whole files, resampled to ``sample_rate`` when it is given.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int | None = None,
        mix_dir: str = "mix",
        split: str | None = None,
    ):
        p = Path(path)
        self.sample_rate = sample_rate
        self.records = _records_from_folder(p, mix_dir) if p.is_dir() else read_mixture_manifest(p, check=False)
        if split is not None:
            self.records = [r for r in self.records if r.get("split") == split]
        if not self.records:
            raise ManifestError(
                f"{p}: no mixtures found (expected {mix_dir}/<id>.wav and s1/<id>.wav, or a mixture manifest)"
            )

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        r = self.records[index]
        mixture, sr = self._load(r["mixture"])
        sources = torch.stack([self._load(s)[0] for s in r["sources"]])
        noise = self._load(r["noise"])[0] if r.get("noise") else torch.zeros_like(mixture)
        snr = r.get("snr_db")
        if snr is None:  # not recorded: unknown with a noise file, none without
            snr = math.nan if r.get("noise") else math.inf
        return {
            "mixture": mixture,
            "sources": sources,
            "noise": noise,
            "sample_rate": sr,
            "id": r["id"],
            "snr_db": float(snr),
            "level_db": float(r.get("level_db", math.nan)),
            "gains_db": torch.tensor(r.get("gains_db") or [math.nan] * len(r["sources"]), dtype=torch.float32),
            "reverberant": bool(r.get("reverberant", False)),
            "index": index,
        }

    def _load(self, path: str) -> tuple[torch.Tensor, int]:
        audio, sr = read_audio(path)
        wav = torch.from_numpy(audio.mean(axis=0))
        if self.sample_rate and sr != self.sample_rate:
            return resample(wav, sr, self.sample_rate), self.sample_rate
        return wav, sr


def _records_from_folder(folder: Path, mix_dir: str) -> list[Entry]:
    """One record per ``mix_dir/<id>.wav``, with sources ``s1..sK/<id>.wav`` and ``noise/<id>.wav``."""
    mixes = sorted((folder / mix_dir).glob("*.wav")) + sorted((folder / mix_dir).glob("*.flac"))
    src_dirs = sorted(
        (d for d in folder.glob("s[0-9]*") if d.is_dir() and d.name[1:].isdigit()), key=lambda d: int(d.name[1:])
    )
    if mix_dir == "mix_single":  # LibriMix: s1 + noise only
        src_dirs = src_dirs[:1]
    params: dict[str, Entry] = {}
    if (folder / MANIFEST).is_file():
        params = {r["id"]: r for r in (json.loads(line) for line in (folder / MANIFEST).open() if line.strip())}
    records = []
    for m in mixes:
        sources = [d / m.name for d in src_dirs]
        if not sources or not all(s.is_file() for s in sources):
            missing = next((str(s) for s in sources if not s.is_file()), f"{folder}/s1/{m.name}")
            raise ManifestError(f"{m}: no matching source file {missing}")
        noise = folder / "noise" / m.name
        has_noise = mix_dir != "mix_clean" and noise.is_file()  # LibriMix's mix_clean holds no noise
        extra = {k: v for k, v in params.get(m.stem, {}).items() if k not in ("mixture", "sources", "noise")}
        records.append(
            {
                **extra,
                "id": m.stem,
                "mixture": str(m),
                "sources": [str(s) for s in sources],
                "noise": str(noise) if has_noise else None,
            }
        )
    return records

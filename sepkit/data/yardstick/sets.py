"""The yardstick's test sets on disk: ``mix/``, ``s1/`` (``s2/``), ``noise/`` and ``items.jsonl`` per set.

``items.jsonl`` holds one line per item: its files (relative to the set folder), what was drawn
(speaker, recordings, SNR, level, RIR) and ``slices``, the labels ``sepkit evaluate`` groups
scores by. A set records what it was drawn from; an unchanged rerun keeps it, a changed one
rewrites it, and a folder that this builder did not write is never touched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from sepkit.audio.io import write_audio
from sepkit.data.manifest import write_manifest
from sepkit.data.yardstick import plan as plan_module
from sepkit.data.yardstick import render
from sepkit.data.yardstick.plan import EnhancementPlan, SeparationPlan, plan_enhancement, plan_separation
from sepkit.data.yardstick.render import Noises, SpeechBank, enhancement_item, separation_item
from sepkit.errors import OutputError

ITEMS = "items.jsonl"
STAMP = ".fingerprint"
ENHANCEMENT, SEPARATION = "enh", "sep2"
_STREAM = {ENHANCEMENT: 1, SEPARATION: 2}  # each set draws from its own random stream

Log = Callable[[str], None]


def reference_folder(name: str, folder: Path) -> Path:
    """What ``sepkit evaluate --ref`` takes for set ``name`` in ``folder``: ``s1/`` for ``enh``, the set for ``sep2``."""
    return folder / "s1" if name == ENHANCEMENT else folder


def read_items(path: Path) -> list[dict]:
    """The items of an ``items.jsonl`` that ``write_set`` wrote, one dict per line."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def write_set(
    name: str, entries: list[dict], folder: Path, plan: EnhancementPlan | SeparationPlan, seed: int, log: Log = print
) -> Path:
    """Write set ``name`` (``enh`` or ``sep2``) drawn from the pool ``entries`` into ``folder``; its ``items.jsonl``."""
    stamp = _fingerprint(name, entries, plan, seed)
    if (folder / STAMP).is_file() and (folder / STAMP).read_text() == stamp and (folder / ITEMS).is_file():
        return folder / ITEMS
    if folder.exists() and any(folder.iterdir()) and not (folder / STAMP).is_file():
        raise OutputError(f"{folder}: exists and was not written by 'sepkit data yardstick'; choose another OUT")
    shutil.rmtree(folder, ignore_errors=True)
    bank, noises = SpeechBank(entries), Noises.from_pool(entries)
    rirs = [e for e in entries if e["kind"] == "rir"]
    stream = _STREAM[name]
    planner = plan_enhancement if name == ENHANCEMENT else plan_separation
    rows = planner(plan, np.random.default_rng([seed, stream]))  # type: ignore[operator, arg-type]
    log(f"writing the yardstick's {name} set ({len(rows)} items)")
    records = []
    for i, row in enumerate(rows):
        rng = np.random.default_rng([seed, stream, i + 1])
        item = (
            enhancement_item(row, bank, noises, rirs, rng)
            if name == ENHANCEMENT
            else separation_item(row, bank, noises, rng)
        )
        records.append(_write_item(folder, f"{i:04d}", item))
    write_manifest(records, folder / ITEMS)
    (folder / STAMP).write_text(stamp)
    return folder / ITEMS


def _write_item(folder: Path, uid: str, item: dict) -> dict:
    """The item's WAV files (float, so references are exact) and its ``items.jsonl`` line."""
    rate = item["sample_rate"]
    write_audio(folder / "mix" / f"{uid}.wav", item["mixture"].numpy(), rate, "FLOAT")
    sources = []
    for k, source in enumerate(item["sources"], 1):
        write_audio(folder / f"s{k}" / f"{uid}.wav", source.numpy(), rate, "FLOAT")
        sources.append(f"s{k}/{uid}.wav")
    noise = None
    if float(item["noise"].abs().max()) > 0:
        write_audio(folder / "noise" / f"{uid}.wav", item["noise"].numpy(), rate, "FLOAT")
        noise = f"noise/{uid}.wav"
    drawn = {k: v for k, v in item.items() if k not in ("mixture", "sources", "noise", "slices")}
    return {
        "id": uid,
        "mixture": f"mix/{uid}.wav",
        "sources": sources,
        "noise": noise,
        "duration": round(item["mixture"].shape[-1] / rate, 4),
        **drawn,
        "slices": item["slices"],
    }


def _fingerprint(name: str, entries: list[dict], plan: EnhancementPlan | SeparationPlan, seed: int) -> str:
    """Changes whenever the pool, the plan, the seed or the drawing code (its source text) change."""
    digest = hashlib.sha1(json.dumps([name, asdict(plan), seed], sort_keys=True).encode())
    for module in (plan_module, render):
        digest.update(Path(module.__file__).read_bytes())
    for e in entries:
        digest.update(json.dumps(e, sort_keys=True).encode())
    return digest.hexdigest()

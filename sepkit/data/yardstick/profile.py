"""The yardstick's profile slice: the items that look like a typical real-recording test set.

Clean English read speech at -5..10 dB SNR, wideband clips of a second or more, dry, at a normal
level: like the real-recording set of issue 16, where RNNoise gains 7.4 dB and DeepFilterNet3 10.4. The all-item means
are mostly made of other items (narrowband, reverberant, quiet, references with their own noise),
and they can rank systems differently, so ``sepkit evaluate`` reports this subset as ``profile``.
It is derived from the other labels, the reference slice included, and written after it.
"""

from __future__ import annotations

from pathlib import Path

from sepkit.data.manifest import write_manifest
from sepkit.data.yardstick.plan import DRY, ENGLISH, LONG, NORMAL_LEVEL, SNR_BANDS, WIDE
from sepkit.data.yardstick.references import CLEAN
from sepkit.data.yardstick.sets import read_items

TYPICAL, OTHER = "clean English, -5..10 dB, dry", "other"
TYPICAL_SNR = tuple(band for band, (low, high) in SNR_BANDS.items() if low >= -5 and high <= 10)


def profile_of(slices: dict[str, str]) -> str:
    """``TYPICAL`` when an item's labels are all those of the profile, else ``OTHER``."""
    wanted = {
        "language": ENGLISH,
        "reference": CLEAN,
        "bandwidth": WIDE,
        "length": LONG,
        "reverb": DRY,
        "level": NORMAL_LEVEL,
    }
    typical = slices.get("snr") in TYPICAL_SNR and all(slices.get(k) == v for k, v in wanted.items())
    return TYPICAL if typical else OTHER


def add_profile_slice(items_path: Path) -> int:
    """Label every rated item of ``items_path`` (an ``items.jsonl``) with ``slices["profile"]``; how many were new."""
    items = read_items(items_path)
    todo = [it for it in items if "reference" in it["slices"] and "profile" not in it["slices"]]
    for it in todo:
        it["slices"]["profile"] = profile_of(it["slices"])
    if todo:
        write_manifest(items, items_path)
    return len(todo)

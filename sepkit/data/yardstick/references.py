"""The yardstick's reference-quality slice: which items' clean references DNSMOS rates clean.

The yardstick's references are real recordings, and some carry their own hiss, music bed or room.
SI-SDR against such a reference penalises an enhancer for removing what the reference itself
holds, so a mean over all items can rank systems differently from a test set with studio-clean
references. Each enhancement item gets ``slices["reference"]``, ``"clean"`` when its reference
reaches ``CLEAN_SPEECH`` or ``"own noise"`` otherwise, and ``reference_dnsmos`` with the ratings,
so that ``sepkit evaluate`` reports both groups. Rating is done once: items that already carry the
slice are not rated again, and older sets gain it on the next ``sepkit data yardstick``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sepkit.data.manifest import write_manifest
from sepkit.data.quality import CLEAN_SPEECH, reaches
from sepkit.data.yardstick.sets import read_items

CLEAN, OWN_NOISE = "clean", "own noise"
Rater = Callable[[str], dict[str, float]]  # a file's path -> its dnsmos_* fields


def add_reference_slice(items_path: Path, rate: Rater | None = None, log: Callable[[str], None] = print) -> int:
    """Label every item of ``items_path`` (an ``items.jsonl``) by its first reference's quality; how many were rated."""
    if rate is None:
        from sepkit.data.quality import rate_file as rate
    items = read_items(items_path)
    todo = [it for it in items if "reference" not in it["slices"]]
    if not todo:
        return 0
    log(f"rating {len(todo)} references of {items_path.parent.name} with DNSMOS")
    for it in todo:
        scores = rate(str(items_path.parent / it["sources"][0]))
        it["reference_dnsmos"] = {k: round(float(v), 4) for k, v in scores.items()}
        it["slices"]["reference"] = CLEAN if reaches(scores, CLEAN_SPEECH) else OWN_NOISE
    write_manifest(items, items_path)
    return len(todo)

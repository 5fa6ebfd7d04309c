"""The demo corpus's fixed evaluation sets: enhancement and 2-speaker separation, dev and test.

Enhancement: 4-6 s of one speaker plus noise at -5..20 dB SNR, 30 % reverberant (targets keep
the early reflections). Separation: 4-6 s, two different speakers at -5..5 dB relative gain, no
noise. Each set draws only from its own split's speech, noise and RIRs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

from sepkit.data.fixed_sets import write_fixed_set
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset, SpeakerMixtureDataset

SIZES = {"dev": 100, "test": 150}
SEGMENT = (4.0, 6.0)
STAMP = ".fingerprint"  # what the set was drawn from; a different one means: rewrite the set


def build_fixed_sets(
    out: Path, manifests: dict[str, Path], seed: int = 0, log: Callable[[str], None] = print
) -> dict[str, Path]:
    """Write ``out/fixed/{enh,sep2}_{dev,test}`` unless already complete; returns name -> folder."""
    written = {}
    for offset, (split, n) in enumerate(SIZES.items()):
        sets = {
            f"enh_{split}": lambda split=split, n=n, s=seed + 10 + offset: NoisySpeechDataset(
                manifests["speech"],
                manifests["noise"],
                MixingOptions(
                    rir_manifest=manifests["rir"],
                    reverb_prob=0.3,
                    segment_seconds=SEGMENT,
                    snr_range=(-5.0, 20.0),
                    split=split,
                    seed=s,
                    length=n,
                ),
            ),
            f"sep2_{split}": lambda split=split, n=n, s=seed + 20 + offset: SpeakerMixtureDataset(
                manifests["speech"],
                MixingOptions(segment_seconds=SEGMENT, split=split, seed=s, length=n),
                n_src=2,
                gain_range_db=(-5.0, 5.0),
            ),
        }
        stamp = _fingerprint(manifests, split, seed)
        for name, make in sets.items():
            folder = out / "fixed" / name
            if (folder / STAMP).is_file() and (folder / STAMP).read_text() == stamp:
                written[name] = folder
                continue
            log(f"writing fixed set {name} ({n} items)")
            shutil.rmtree(folder, ignore_errors=True)
            write_fixed_set(make(), folder, n, split=split)
            (folder / STAMP).write_text(stamp)
            written[name] = folder
    return written


def _fingerprint(manifests: dict[str, Path], split: str, seed: int) -> str:
    """Changes whenever the split's speech, noise or RIR entries (or the seed) change."""
    digest = hashlib.sha1(f"{seed}:{split}:{SIZES}:{SEGMENT}".encode())
    for kind in ("speech", "noise", "rir"):
        for line in manifests[kind].read_text().splitlines():
            if json.loads(line)["split"] == split:
                digest.update(line.encode())
    return digest.hexdigest()

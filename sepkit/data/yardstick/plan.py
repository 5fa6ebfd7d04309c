"""Which slices each yardstick item falls in, decided before any audio is drawn.

Each attribute is allocated by exact counts (largest remainder) and shuffled on its own, so
every slice holds its promised number of items whatever the seed, and slices cross at random.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from sepkit.data.yardstick.catalog import FAMILIES

SNR_BANDS: dict[str, tuple[float, float]] = {
    "-5..0 dB": (-5.0, 0.0),
    "0..5 dB": (0.0, 5.0),
    "5..10 dB": (5.0, 10.0),
    "10..20 dB": (10.0, 20.0),
}
SHORT, LONG = "< 1 s", ">= 1 s"
WIDE, NARROW = "16 kHz", "8 kHz"
QUIET, NORMAL_LEVEL = "-40 dBFS", "-32..-18 dBFS"
QUIET_DBFS = -40.0
LEVEL_RANGE_DBFS = (-32.0, -18.0)
DRY, REVERB = "dry", "real RIR"
ENGLISH, OTHER = "English", "other"
FULL, PARTIAL = "full", "partial"
NO_NOISE, LIGHT_NOISE = "none", "light (15..25 dB)"
LIGHT_SNR_DB = (15.0, 25.0)
GAIN_BANDS: dict[str, tuple[float, float]] = {"0..2.5 dB": (0.0, 2.5), "2.5..5 dB": (2.5, 5.0)}  # |relative gain|


def _even(names: tuple[str, ...]) -> dict[str, float]:
    return {n: 1 / len(names) for n in names}


@dataclass(frozen=True)
class EnhancementPlan:
    """Shares of the enhancement set per slice value (most items at -5..10 dB, like real recordings)."""

    items: int = 250
    snr: dict[str, float] = field(
        default_factory=lambda: {"-5..0 dB": 0.28, "0..5 dB": 0.28, "5..10 dB": 0.28, "10..20 dB": 0.16}
    )
    noise: dict[str, float] = field(default_factory=lambda: _even(FAMILIES))
    # bandwidth x length, so that the 8 kHz short clips form a slice of their own
    clip: dict[str, float] = field(
        default_factory=lambda: {
            f"{WIDE}, {LONG}": 0.76,
            f"{WIDE}, {SHORT}": 0.08,
            f"{NARROW}, {LONG}": 0.08,
            f"{NARROW}, {SHORT}": 0.08,
        }
    )
    quiet: float = 0.1  # share of mixtures at -40 dBFS
    reverb: float = 0.16  # share of all items convolved with a real RIR (drawn among clips of >= 1 s)
    english: float = 0.6  # share of English target speech (the rest: other languages)


@dataclass(frozen=True)
class SeparationPlan:
    """Shares of the two-speaker set per slice value."""

    items: int = 100
    overlap: dict[str, float] = field(default_factory=lambda: _even((FULL, PARTIAL)))
    noise: dict[str, float] = field(default_factory=lambda: _even((NO_NOISE, LIGHT_NOISE)))
    gain: dict[str, float] = field(default_factory=lambda: _even(tuple(GAIN_BANDS)))
    english: float = 0.5  # share of mixtures of two English speakers


def label_order(label: str) -> tuple[float, str]:
    """Sort key for slice labels: by their first number (``-5..0 dB`` before ``10..20 dB``), the rest alphabetically."""
    m = re.match(r"\s*(-?\d+(\.\d+)?)", label)
    return (float(m.group(1)) if m else math.inf, label)


def counts(shares: dict[str, float], n: int) -> dict[str, int]:
    """``n`` split by ``shares`` into whole counts that add up to ``n`` (largest remainder)."""
    total = sum(shares.values())
    exact = {k: n * v / total for k, v in shares.items()}
    out = {k: int(np.floor(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: out[k] - exact[k])[: n - sum(out.values())]:
        out[k] += 1
    return out


def allocate(shares: dict[str, float], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` labels with exactly ``counts(shares, n)`` of each, in random order."""
    labels = [k for k, c in counts(shares, n).items() for _ in range(c)]
    return [labels[i] for i in rng.permutation(n)]


def plan_enhancement(plan: EnhancementPlan, rng: np.random.Generator) -> list[dict[str, str]]:
    """The slice attributes of every enhancement item: snr, noise, clip, bandwidth, length, level, reverb, language."""
    n = plan.items
    snr, noise, clip = allocate(plan.snr, n, rng), allocate(plan.noise, n, rng), allocate(plan.clip, n, rng)
    level = allocate({QUIET: plan.quiet, NORMAL_LEVEL: 1 - plan.quiet}, n, rng)
    language = allocate({ENGLISH: plan.english, OTHER: 1 - plan.english}, n, rng)
    long_items = [i for i in range(n) if clip[i].endswith(LONG)]
    n_reverb = min(len(long_items), int(round(plan.reverb * n)))
    reverb = set(rng.choice(long_items, size=n_reverb, replace=False).tolist()) if n_reverb else set()
    rows = []
    for i in range(n):
        bandwidth, length = clip[i].split(", ")
        rows.append(
            {
                "snr": snr[i],
                "noise": noise[i],
                "clip": clip[i],
                "bandwidth": bandwidth,
                "length": length,
                "level": level[i],
                "reverb": REVERB if i in reverb else DRY,
                "language": language[i],
            }
        )
    return rows


def plan_separation(plan: SeparationPlan, rng: np.random.Generator) -> list[dict[str, str]]:
    """The slice attributes of every two-speaker item: overlap, noise, gain, language."""
    n = plan.items
    overlap, noise, gain = allocate(plan.overlap, n, rng), allocate(plan.noise, n, rng), allocate(plan.gain, n, rng)
    language = allocate({ENGLISH: plan.english, OTHER: 1 - plan.english}, n, rng)
    return [{"overlap": overlap[i], "noise": noise[i], "gain": gain[i], "language": language[i]} for i in range(n)]

"""Build the out-of-domain yardstick: check that it is held out, decode its pool, write its sets and README."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sepkit.data.yardstick.catalog import held_out_violations
from sepkit.data.yardstick.plan import EnhancementPlan, SeparationPlan
from sepkit.data.yardstick.pool import PoolOptions, build_pool
from sepkit.data.yardstick.profile import add_profile_slice
from sepkit.data.yardstick.readme import write_readme
from sepkit.data.yardstick.references import Rater, add_reference_slice
from sepkit.data.yardstick.sets import ENHANCEMENT, SEPARATION, reference_folder, write_set
from sepkit.errors import ConfigError
from sepkit.metrics.fingerprint import SHOWN, folder_digest

Log = Callable[[str], None]


@dataclass(frozen=True)
class YardstickOptions:
    """Where the yardstick goes, how its pool is made, and what its sets hold."""

    out: Path
    pool: PoolOptions = field(default_factory=PoolOptions)
    enhancement: EnhancementPlan = field(default_factory=EnhancementPlan)
    separation: SeparationPlan = field(default_factory=SeparationPlan)
    seed: int = 0


def build_yardstick(opts: YardstickOptions, command: str, log: Log = print) -> dict[str, Path]:
    """Download and decode the pool (once), then write ``enh/``, ``sep2/`` and ``README.md``; returns the sets.

    The enhancement set's references are rated with DNSMOS for its reference-quality slice (about
    half a second per item, once).
    """
    violations = held_out_violations()
    if violations:  # a catalogue edit put a training package in the yardstick
        raise ConfigError(f"yardstick packages used for training by the demo catalogue: {', '.join(violations)}")
    out = Path(opts.out).resolve()
    entries = build_pool(out, opts.pool, log=log)
    return write_yardstick(out, entries, opts, command, log)


def write_yardstick(
    out: Path, entries: list[dict], opts: YardstickOptions, command: str, log: Log = print, rate: Rater | None = None
) -> dict[str, Path]:
    """The sets and README from pool ``entries`` (each a decoded file with kind, speaker or family).

    ``rate`` (default: DNSMOS, ``sepkit.data.quality.rate_file``) rates the enhancement references.
    """
    sets = {
        ENHANCEMENT: write_set(ENHANCEMENT, entries, out / ENHANCEMENT, opts.enhancement, opts.seed, log),
        SEPARATION: write_set(SEPARATION, entries, out / SEPARATION, opts.separation, opts.seed, log),
    }
    add_reference_slice(sets[ENHANCEMENT], rate, log)
    add_profile_slice(sets[ENHANCEMENT])  # needs the reference slice
    digests = {
        name: folder_digest(path.parent / "mix", reference_folder(name, path.parent)) for name, path in sets.items()
    }
    for name, digest in digests.items():
        log(f"{name}: audio digest {digest[:SHOWN]} (what 'sepkit evaluate' prints for this set)")
    write_readme(out, entries, sets, command, digests)
    return {name: path.parent for name, path in sets.items()}

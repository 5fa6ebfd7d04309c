"""The ``unpaired`` dataset type: a clean set and a noisy set from their own sections, made and checked disjoint.

    data:
      train:
        type: unpaired
        clean: {type: clean_speech, speech_manifest: ..., split: train, ...}   # any dataset section
        noisy: {type: noisy_speech, speech_manifest: ..., noise_manifest: ..., split: train, ...}
        disjoint_by: speaker     # speaker | utterance | none
        clean_fraction: 0.5      # share of the audio (by duration) that goes to the clean side
        noise_only_prob: 0.3
        length: null             # items per epoch; default: the noisy set's length

With ``disjoint_by: speaker`` (or ``utterance``) the speech the two sides would draw from (their
``speech_manifest`` entries, or a fixed set's records) is pooled, every speaker (utterance) is
assigned to one side (``sepkit.data.unpaired.assign_sides``), and each side keeps only its own.
So the two sides may even name the same manifest. ``none`` takes the sections as they are (two
different corpora, or synthetic sets with different seeds). Whatever the setting, the two
built sets are then compared utterance by utterance and a single shared one is a ``ConfigError``.
"""

from __future__ import annotations

from typing import Any, Callable

from torch.utils.data import Dataset

from sepkit.data.fixed_sets import FixedSetDataset
from sepkit.data.mixing import MixingDataset
from sepkit.data.sources import load_entries
from sepkit.data.unpaired import CLEAN, NOISY, UnpairedDataset, assign_sides, keep_side, utterance_key
from sepkit.errors import ConfigError
from sepkit.train.segments import RandomSegments
from sepkit.train.synthetic import SyntheticMixtures

BuildSection = Callable[[dict[str, Any], str, int, int], Dataset]  # (section, where, sample_rate, seed) -> dataset
DISJOINT_BY = ("speaker", "utterance", "none")
SIDES = {"clean": CLEAN, "noisy": NOISY}
SEED_OFFSETS = {"clean": 1009, "noisy": 2003}  # the two sides draw with different seeds (validation: seed + 1)
MAX_LISTED = 3


def build_unpaired(
    clean: dict[str, Any],
    noisy: dict[str, Any],
    sample_rate: int,
    seed: int = 0,
    noise_only_prob: float = 0.0,
    length: int | None = None,
    disjoint_by: str = "speaker",
    clean_fraction: float = 0.5,
    *,
    build_section: BuildSection,
) -> UnpairedDataset:
    """The ``UnpairedDataset`` the section describes (module doc); ``ConfigError`` if its sides share an utterance.

    ``build_section`` builds each side from its section (``sepkit.train.datasets.build_dataset``, which passes itself).
    """
    if disjoint_by not in DISJOINT_BY:
        raise ConfigError(f"data.train.disjoint_by must be one of {', '.join(DISJOINT_BY)}, not {disjoint_by!r}")
    specs = {"clean": _section(clean, "clean"), "noisy": _section(noisy, "noisy")}
    built: dict[str, Dataset] = {}
    if disjoint_by != "none":
        pools: dict[str, list[dict[str, Any]]] = {}
        for name, spec in specs.items():
            if spec.get("type") == "fixed":  # a fixed set's records are its pool: build it, filter it below
                built[name] = build_section(spec, f"data.train.{name}", sample_rate, seed + SEED_OFFSETS[name])
                pools[name] = _fixed_set(built[name]).records
            elif isinstance(spec.get("speech_manifest"), str):
                pools[name] = load_entries(spec["speech_manifest"], spec.get("split"))
            else:
                raise ConfigError(
                    f"data.train.{name}: disjoint_by: {disjoint_by} needs a speech_manifest or a fixed "
                    f"set to split; for other data (e.g. synthetic) set disjoint_by: none"
                )
        sides = assign_sides([*pools["clean"], *pools["noisy"]], disjoint_by, clean_fraction)
        for name, spec in specs.items():
            kept = keep_side(pools[name], SIDES[name], sides, disjoint_by)
            if not kept:
                raise ConfigError(
                    f"data.train.{name}: no {disjoint_by} is left for this side after splitting "
                    f"(try another clean_fraction)"
                )
            if name in built:
                _fixed_set(built[name]).records = kept
            else:
                spec["speech_manifest"] = kept
    for name, spec in specs.items():
        if name not in built:
            built[name] = build_section(spec, f"data.train.{name}", sample_rate, seed + SEED_OFFSETS[name])
    check_disjoint(built["clean"], built["noisy"])
    return UnpairedDataset(built["clean"], built["noisy"], noise_only_prob=noise_only_prob, length=length, seed=seed)


def _section(spec: Any, name: str) -> dict[str, Any]:
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"data.train.{name}: needs a dataset section with a 'type'")
    if spec["type"] == "unpaired":
        raise ConfigError(f"data.train.{name}: cannot itself be unpaired")
    return dict(spec)


def _fixed_set(dataset: Dataset) -> FixedSetDataset:
    """The ``FixedSetDataset`` inside ``dataset`` (fixed sets may be wrapped in ``RandomSegments``)."""
    inner = dataset.dataset if isinstance(dataset, RandomSegments) else dataset
    if not isinstance(inner, FixedSetDataset):
        raise ConfigError(f"expected a fixed set, got {type(inner).__name__}")
    return inner


def utterances(dataset: Dataset) -> set[str]:
    """Identities of the utterances ``dataset`` can draw speech from (``ConfigError`` for a type it cannot list)."""
    inner = dataset.dataset if isinstance(dataset, RandomSegments) else dataset
    if isinstance(inner, MixingDataset):  # a file and, for pieces of a longer one, the recording it was cut from
        return {f"utterance:{k}" for e in inner.speech.entries for k in {str(e["path"]), utterance_key(e)}}
    if isinstance(inner, FixedSetDataset):  # the references, and the corpus files they were made from when recorded
        return {f"utterance:{s}" for r in inner.records for s in [*r["sources"], *(r.get("speech_files") or [])]}
    if isinstance(inner, SyntheticMixtures):  # items are a pure function of (seed, index)
        return {f"synthetic:{inner.seed}:{i}" for i in range(len(inner))}
    raise ConfigError(
        f"unpaired data: cannot list the utterances of a {type(inner).__name__}, so cannot check that "
        f"clean and noisy sets are disjoint"
    )


def check_disjoint(clean: Dataset, noisy: Dataset) -> None:
    """``ConfigError`` naming a few utterances if the clean and noisy sets share any."""
    shared = sorted(utterances(clean) & utterances(noisy))
    if shared:
        listed = ", ".join(s.split(":", 1)[1] for s in shared[:MAX_LISTED])
        raise ConfigError(
            f"unpaired data: the clean and noisy training sets share {len(shared)} utterance(s) "
            f"(e.g. {listed}); use disjoint_by: speaker or give them different data"
        )

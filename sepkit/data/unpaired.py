"""Unpaired training data: clean speech from one pool, noisy speech from another, never the same utterance.

``CleanSpeechDataset`` gives clean speech crops (items as ``NoisySpeechDataset``'s, without noise).
``UnpairedDataset`` puts one item of a clean set and one of a noisy set, drawn independently, into
each training item::

    mixture     (T,)    the noisy clip, or with probability noise_only_prob its noise alone
                        (standing in for a noise-only recording)
    clean       (T,)    the first reference of a clean-set item: another utterance, cut or
                        zero-padded to T
    noise_only  bool    which of the two ``mixture`` is

and no ``sources``: the noisy clip's own clean reference is dropped here, so that no training code
can reach it (paradigms declare the keys they read: ``cae_mae`` reads these three).

``assign_sides`` splits groups (speakers, or utterances) between the two sets so that both hold
about the wanted share of audio; ``keep_side`` keeps a side's entries. A group goes to exactly one
side, so two pools filtered with one assignment share no speaker (or no utterance).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from sepkit.data.manifest import Entry
from sepkit.data.mixing import OPTION_KEYS, MixingDataset, MixingOptions, NoisySpeechDataset
from sepkit.data.sources import ManifestLike
from sepkit.errors import ConfigError

CLEAN, NOISY = 0, 1
GROUPINGS = ("speaker", "utterance")
SILENT = 1e-8  # a noise signal with no sample above this is taken as absent


class CleanSpeechDataset(NoisySpeechDataset):
    """Clean speech crops (optionally reverberant, early-reverberant target), no noise: a CAE's training data."""

    option_keys = tuple(  # clean speech: none of the noise options, nor speech_min
        k for k in OPTION_KEYS if k not in ("snr_range", "noise_augment", "speech_min", "corrupt", "noise_weights")
    )

    def __init__(self, speech_manifest: ManifestLike, options: MixingOptions | None = None):
        # NoisySpeechDataset's items with no noise pool: its _add_noise returns zeros (SNR inf).
        MixingDataset.__init__(self, speech_manifest, options)


def utterance_key(entry: Entry) -> str:
    """A recording's identity: package and original path when given (pieces of one file share it), else its path."""
    if entry.get("original"):
        return f"{entry.get('package') or entry.get('source') or ''}:{entry['original']}"
    return str(entry["path"])


def group_keys(entry: Entry, by: str) -> list[str]:
    """The groups an entry belongs to: its speaker(s), or its utterance(s); mixture records use their sources."""
    if by not in GROUPINGS:
        raise ConfigError(f"unpaired data: group by one of {', '.join(GROUPINGS)}, not {by!r}")
    if by == "speaker":
        speakers = entry.get("speakers") or ([entry["speaker"]] if entry.get("speaker") else [])
        if speakers:
            return [f"speaker:{s}" for s in speakers]
    if "sources" in entry:  # a mixture record: its utterances are its clean sources
        return [f"utterance:{s}" for s in entry["sources"]]
    return [f"utterance:{utterance_key(entry)}"]  # no speaker known: the utterance is its own group


def assign_sides(entries: Iterable[Entry], by: str, clean_fraction: float = 0.5) -> dict[str, int]:
    """Group -> ``CLEAN`` or ``NOISY``, about ``clean_fraction`` of the audio clean; deterministic.

    Largest groups first, each to the side furthest below its share (ties: clean), so the split
    is balanced even when a few speakers hold most of the audio.
    """
    if not 0 < clean_fraction < 1:
        raise ConfigError(f"unpaired data: clean_fraction must be within (0, 1), not {clean_fraction}")
    seconds: dict[str, float] = {}
    for entry in entries:
        for key in group_keys(entry, by):
            seconds[key] = seconds.get(key, 0.0) + float(entry.get("duration") or 1.0)
    shares = (clean_fraction, 1.0 - clean_fraction)
    totals = [0.0, 0.0]
    sides: dict[str, int] = {}
    for key in sorted(seconds, key=lambda k: (-seconds[k], k)):
        side = min((CLEAN, NOISY), key=lambda s: (totals[s] / shares[s], s))
        sides[key] = side
        totals[side] += seconds[key]
    return sides


def keep_side(entries: Iterable[Entry], side: int, sides: dict[str, int], by: str) -> list[Entry]:
    """The entries all of whose groups were assigned to ``side``."""
    return [e for e in entries if all(sides.get(k) == side for k in group_keys(e, by))]


def noise_alone(item: dict[str, Any]) -> torch.Tensor:
    """An item's noise signal: its ``noise``, or for sets without one its mixture minus its sources."""
    if "noise" in item:
        return torch.as_tensor(item["noise"]).float()
    return torch.as_tensor(item["mixture"]).float() - torch.as_tensor(item["sources"]).float().sum(0)


class UnpairedDataset(Dataset):
    """Items ``{mixture, clean, noise_only}`` from a noisy and a clean set drawn independently (module doc)."""

    def __init__(
        self, clean: Dataset, noisy: Dataset, noise_only_prob: float = 0.0, length: int | None = None, seed: int = 0
    ) -> None:
        if not 0.0 <= noise_only_prob < 1.0:
            raise ConfigError(f"unpaired data: noise_only_prob must be within [0, 1), not {noise_only_prob}")
        self.clean, self.noisy = clean, noisy
        self.noise_only_prob, self.seed, self.epoch = float(noise_only_prob), int(seed), 0
        self.length = len(noisy) if length is None else int(length)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """New draws for ``epoch``, in this set and in both underlying ones."""
        self.epoch = epoch
        for part in (self.clean, self.noisy):
            if callable(getattr(part, "set_epoch", None)):
                part.set_epoch(epoch)  # type: ignore[attr-defined]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of {self.length} items")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        noisy = self.noisy[index % len(self.noisy)]  # type: ignore[arg-type]
        clean_item = self.clean[int(rng.integers(len(self.clean)))]  # type: ignore[arg-type]
        noise_only = bool(rng.random() < self.noise_only_prob)
        mixture = torch.as_tensor(noisy["mixture"]).float()
        if noise_only:
            mixture = noise_alone(noisy)
            if float(mixture.abs().max()) <= SILENT:
                raise ConfigError(
                    "unpaired data: noise_only_prob > 0 needs noisy items with a noise signal "
                    "(this noisy set has none: set noise_only_prob: 0)"
                )
        clean = torch.as_tensor(clean_item["sources"]).float()[0]
        clean = torch.nn.functional.pad(clean[: mixture.shape[-1]], (0, max(0, mixture.shape[-1] - clean.shape[-1])))
        return {"mixture": mixture, "clean": clean, "noise_only": noise_only}

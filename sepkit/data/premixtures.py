"""Personalisation data: premixtures of one speaker plus injected noise, and contrastive-mixture pairs.

A premixture p is a crop of the user's own noisy recording (their speech in their environment);
the training input is x = p + n with noise n injected from a noise set at a random SNR against p
(U(−5, 5) dB in the papers), and p is the target (PseudoSE, docs/methods.md section 4). Every item
is a pure function of ``(seed, epoch, index)``, like the other on-the-fly sets, so training
resumes exactly.

Items: ``mixture`` p + n (T,), ``sources`` p as the one target (1, T), ``noise`` n (T,),
``noise_alt`` a second, independent injected noise (T,) for contrastive positives, ``snr_db``
and ``snr_alt_db``; with ``with_clean``, ``clean``: the premixture's speech alone (T,), from each
recording's ``clean`` file (oracle purification on a corpus speaker). Premixture crops are
level-normalised (RMS drawn from ``level_range_db``, −25 dBFS by default) before the noise is
added; everything is scaled down together if a peak would pass 0.99.

``contrastive_pairs`` turns a batch of such items into contrastive-mixture pairs: the first
half of the batch are positives (same premixture, two injected noises), the second half
negatives (the next item's premixture under the same injected noise as item i).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from sepkit.data.mixing import OPTION_KEYS, PEAK, MixingDataset, MixingOptions, rms
from sepkit.data.sources import AudioPool, ManifestLike, load_entries
from sepkit.errors import ConfigError


class PremixtureDataset(MixingDataset):
    """Crops of one speaker's noisy recordings (``recordings``) with noise from ``noise_manifest`` injected twice."""

    # the papers' premixtures: 3 s crops at -25 dBFS, noise injected at -5..5 dB
    defaults = MixingOptions(segment_seconds=3.0, snr_range=(-5.0, 5.0), level_range_db=(-25.0, -25.0))
    # no reverberation, no corruption: the recordings already hold their room; the noise is one manifest's
    option_keys = tuple(
        k for k in OPTION_KEYS if k not in ("rir_manifest", "reverb_prob", "speech_min", "corrupt", "noise_weights")
    )

    def __init__(
        self,
        recordings: ManifestLike,
        noise_manifest: ManifestLike,
        options: MixingOptions | None = None,
        *,
        noise_split: str | None = None,
        with_clean: bool = False,
    ) -> None:
        super().__init__(recordings, options)
        sample_rate, cache = self.sample_rate, self.options.cache
        # The noise set has its own splits (a user's recordings and a shipped noise set share none).
        self.noise = AudioPool(load_entries(noise_manifest, noise_split), sample_rate, cache)
        durations = np.array([e["duration"] for e in self.noise.entries], dtype=np.float64)
        self._noise_p = durations / durations.sum()
        # with_clean: the recordings' clean versions (each entry's "clean" path, sample-aligned), for oracle
        # purification experiments on a corpus speaker; a real user has none.
        self.clean: AudioPool | None = None
        if with_clean:
            missing = [e["path"] for e in self.speech.entries if not e.get("clean")]
            if missing:
                raise ConfigError(f"with_clean: {len(missing)} recordings have no 'clean' path, e.g. {missing[0]}")
            self.clean = AudioPool([{**e, "path": e["clean"]} for e in self.speech.entries], sample_rate, cache)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        n = self._segment_length(rng)
        premixture, info = self._draw_speech(n, rng, twin=self.clean)
        level = float(rng.uniform(*self.level_range_db))
        gain = 10 ** (level / 20) / max(rms(premixture), 1e-12)
        premixture = premixture * gain
        noise, snr, noise_info = self._add_noise(premixture, rng)
        noise_alt, snr_alt, _ = self._add_noise(premixture, rng)
        peak = max(
            float((premixture + noise).abs().max()),
            float((premixture + noise_alt).abs().max()),
            float(premixture.abs().max()),
        )
        scale = PEAK / peak if peak > PEAK else 1.0
        premixture, noise, noise_alt = premixture * scale, noise * scale, noise_alt * scale
        item = {
            "mixture": (premixture + noise).float(),
            "sources": premixture[None].float(),
            "noise": noise.float(),
            "noise_alt": noise_alt.float(),
            "snr_db": snr,
            "snr_alt_db": snr_alt,
            "index": index,
            "info": {"recording": info["speech_files"], "start": info["speech_starts"], **noise_info},
        }
        if self.clean is not None:
            item["clean"] = (info.pop("twin") * gain * scale).float()  # the premixture's speech alone
        return item


class ContrastivePairs(NamedTuple):
    """Inputs and targets of contrastive-mixture pairs; pair i's second premixture is item ``second[i]``'s."""

    x1: torch.Tensor  # (B, T) premixture i + its noise
    x2: torch.Tensor  # (B, T) positive: premixture i + its other noise; negative: premixture j + noise i
    p1: torch.Tensor  # (B, T)
    p2: torch.Tensor  # (B, T)
    positive: torch.Tensor  # (B,) bool
    second: torch.Tensor  # (B,) long: the item whose premixture is p2 (i for positives)


def contrastive_pairs(
    premixture: torch.Tensor, noise: torch.Tensor, noise_alt: torch.Tensor, positive: torch.Tensor | None = None
) -> ContrastivePairs:
    """Contrastive-mixture pairs from a batch ``(B, T)``; by default the first half positive, the rest negative.

    Positive pair i: (p_i + n_i, p_i + n'_i), one premixture under two injected noises.
    Negative pair i: (p_i + n_i, p_j + n_i), j = i + 1 (cyclically: another crop of the batch),
    two premixtures under the same injected noise.
    """
    size = premixture.shape[0]
    if positive is None:
        positive = torch.arange(size, device=premixture.device) < math.ceil(size / 2)
    positive = positive.to(device=premixture.device, dtype=torch.bool)
    if size < 2 and not bool(positive.all()):
        raise ValueError("contrastive pairs: a negative pair needs a batch of two or more items")
    second = torch.arange(size, device=premixture.device)
    second = torch.where(positive, second, (second + 1) % size)
    x1 = premixture + noise
    x2 = torch.where(positive[:, None], premixture + noise_alt, premixture[second] + noise)
    return ContrastivePairs(x1, x2, premixture, premixture[second], positive, second)

"""Per-speaker sets for evaluating personalisation on a corpus speaker whose clean speech is known.

A personalisation method never sees clean speech, but scoring it needs some: so a speaker of a
corpus (one the generalist never trained on) plays the user. Their utterances are split by
utterance into ``train`` (the "personal" recordings), ``dev`` and ``test``, and written as:

- ``premixtures/<n>-<utt>.wav``: every train utterance mixed with the speaker's "environment" noise
  at ``premixture_snr`` dB: the stand-in for a user's own noisy recordings (``recordings.jsonl``
  lists them; ``premixtures_clean/`` keeps the clean speech under the same names);
- ``fixed/dev``, ``fixed/test``: fixed sets (mix/, s1/, noise/) of the dev and test utterances in
  held-out noise at ``test_snr`` dB, with clean references: validation and the per-speaker
  SI-SDRi of every variant, the generalist and the supervised upper bound;
- ``speech.jsonl``: the speaker's clean utterances with those splits (the supervised upper bound
  trains on its train split); ``inject_noise.jsonl``: the noise set that training injects.

Everything is a pure function of the inputs and ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sepkit.audio.io import write_audio
from sepkit.data.fixed_sets import write_fixed_set
from sepkit.data.manifest import Entry, file_entry, write_manifest
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset, rms
from sepkit.data.sources import AudioPool
from sepkit.data.splits import split_groups
from sepkit.errors import ManifestError


@dataclass(frozen=True)
class SpeakerSetOptions:
    """How a speaker's sets are cut and mixed."""

    dev_fraction: float = 0.1
    test_fraction: float = 0.3
    premixture_snr: tuple[float, float] = (0.0, 10.0)  # environment noise in the "user's recordings", dB
    test_snr: tuple[float, float] = (-5.0, 5.0)  # held-out noise in the dev/test mixtures, dB
    n_dev: int = 50
    n_test: int = 100  # the papers score 100 held-out mixtures per speaker
    segment_seconds: float = 4.0  # dev/test mixtures
    sample_rate: int = 16000
    seed: int = 0


def write_speaker_sets(
    speech: list[Entry],
    speaker: str,
    environment_noise: list[Entry],
    test_noise: list[Entry],
    inject_noise: list[Entry],
    out: Path,
    opts: SpeakerSetOptions | None = None,
) -> dict[str, Path]:
    """Write one speaker's premixtures, fixed dev/test sets and manifests into ``out``; returns name -> path."""
    opts = opts or SpeakerSetOptions()
    utterances = sorted((e for e in speech if e.get("speaker") == speaker), key=lambda e: e["path"])
    if len(utterances) < 3:
        raise ManifestError(f"speaker {speaker!r}: {len(utterances)} utterance(s) in the manifest, need 3 or more")
    splits = split_groups([e["path"] for e in utterances], opts.dev_fraction, opts.test_fraction, opts.seed)
    mine = [{**e, "split": splits[e["path"]]} for e in utterances]
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "speech": write_manifest(mine, out / "speech.jsonl"),
        "inject_noise": write_manifest(inject_noise, out / "inject_noise.jsonl"),
    }
    train = [e for e in mine if e["split"] == "train"]
    written["recordings"] = write_manifest(_premixtures(train, environment_noise, out, opts), out / "recordings.jsonl")
    for split, n, seed in (("dev", opts.n_dev, opts.seed + 1), ("test", opts.n_test, opts.seed + 2)):
        held_out = [e for e in mine if e["split"] == split]
        if not held_out:
            raise ManifestError(f"speaker {speaker!r}: no {split} utterances (too few utterances to split)")
        mixing = MixingOptions(
            sample_rate=opts.sample_rate,
            segment_seconds=opts.segment_seconds,
            snr_range=opts.test_snr,
            seed=seed,
            length=n,
        )
        dataset = NoisySpeechDataset(held_out, test_noise, mixing)
        written[split] = write_fixed_set(dataset, out / "fixed" / split, n, split=split, overwrite=True)
    return written


def _premixtures(train: list[Entry], noise: list[Entry], out: Path, opts: SpeakerSetOptions) -> list[Entry]:
    """Each train utterance plus environment noise at a random SNR, written whole; their manifest entries."""
    speech_pool, noise_pool = AudioPool(train, opts.sample_rate), AudioPool(noise, opts.sample_rate)
    rng = np.random.default_rng([opts.seed, 7])
    entries = []
    for i, e in enumerate(train):
        clean = speech_pool.load(i)
        j = int(rng.integers(len(noise_pool)))
        whole = noise_pool.load(j)
        start = int(rng.integers(0, whole.shape[0]))
        crop = whole.repeat(math.ceil((clean.shape[0] + start) / whole.shape[0]))[start : start + clean.shape[0]]
        snr = float(rng.uniform(*opts.premixture_snr))
        crop = crop * (rms(clean) / max(rms(crop), 1e-12) * 10 ** (-snr / 20))
        mixture = clean + crop
        scale = min(1.0, 0.99 / max(float(mixture.abs().max()), float(clean.abs().max()), 1e-12))
        name = f"{i:05d}-{Path(e['path']).stem}.wav"  # numbered: utterances of two folders may share a name
        path = write_audio(out / "premixtures" / name, (mixture * scale).numpy(), opts.sample_rate, "FLOAT")
        write_audio(out / "premixtures_clean" / name, (clean * scale).numpy(), opts.sample_rate, "FLOAT")
        entries.append(
            file_entry(
                path,
                "train",
                "speech",
                e.get("speaker"),
                premixture_snr_db=round(snr, 3),
                noise_file=noise_pool.path(j),
                clean=str(out / "premixtures_clean" / name),
            )
        )
    return entries

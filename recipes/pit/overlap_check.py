"""Do two-speaker mixtures really overlap, and does a separator separate overlapped talkers or only tell turns apart?

``stats``: the share of each mixture on which both references are active (frames of 10 ms within 35 dB of the
reference's loudest), for fixed sets in the LibriMix layout (``--ref`` with ``s1/`` and ``s2/``) or for a
``speaker_mixture`` stream drawn as a training config would draw it (``--manifest``; then also the train
files' lengths and how many equally likely speakers the draws amount to).
``probe``: a model's SI-SDRi on pairs of references as mixed in a set, and on the same pairs with every
pause cut out of both talkers, so that they talk over each other throughout.

    python recipes/pit/overlap_check.py stats --ref $SEPKIT_DATA/demo/fixed/sep2_test
    python recipes/pit/overlap_check.py stats --manifest $SEPKIT_DATA/demo/manifests/speech.jsonl [--fill]
    python recipes/pit/overlap_check.py probe separate-2spk --ref $SEPKIT_DATA/demo/fixed/sep2_test --items 30
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import torch

from sepkit.metrics.matching import best_permutation
from sepkit.metrics.sisdr import si_sdr

if TYPE_CHECKING:
    from sepkit.data.mixing import SpeakerMixtureDataset

FRAME = 160  # 10 ms at 16 kHz
RANGE_DB = 35.0


def active(x: np.ndarray) -> np.ndarray:
    """Per 10 ms frame: within ``RANGE_DB`` of the signal's loudest frame."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    power = (frames**2).mean(1)
    return power > power.max() * 10 ** (-RANGE_DB / 10)


def both_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the frames on which both talkers are active."""
    n = min(len(a), len(b))
    return float((active(a[:n]) & active(b[:n])).mean())


def pairs_from(ref: Path, items: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``items`` reference pairs of a LibriMix-layout folder (``s1/``, ``s2/``)."""
    names = sorted(p.name for p in (ref / "s1").iterdir())[:items]
    return [(sf.read(ref / "s1" / n)[0], sf.read(ref / "s2" / n)[0]) for n in names]


def stream(manifest: str, items: int, fill: bool, speaker_power: float) -> SpeakerMixtureDataset:
    """stft.yaml's train stream (4 s, 50-100 % overlap of the spans), dry and noiseless, ``items`` long."""
    from sepkit.data.mixing import MixingOptions, SpeakerMixtureDataset

    return SpeakerMixtureDataset(
        manifest,
        MixingOptions(segment_seconds=4.0, length=items, split="train", seed=3),
        overlap_range=(0.5, 1.0),
        fill_speech=fill,
        speaker_power=speaker_power,
    )


def pairs_drawn(ds: SpeakerMixtureDataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference pairs of every mixture of a speaker-mixture stream."""
    return [tuple(s.numpy() for s in ds[i]["sources"]) for i in range(len(ds))]  # type: ignore[misc]


def without_pauses(x: np.ndarray) -> np.ndarray:
    """The signal with its inactive frames cut out."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    return frames[active(x)].ravel()


def si_sdri(model, a: np.ndarray, b: np.ndarray) -> float:
    """SI-SDRi of ``model.separate`` (the engine, the model's own output rule) on ``a + b`` at equal levels,
    outputs matched to the references as ``sepkit evaluate`` matches them."""
    n = min(len(a), len(b))
    refs = np.stack([r[:n] / (np.sqrt(np.mean(r[:n] ** 2)) + 1e-12) * 0.05 for r in (a, b)])
    mix = refs.sum(0)
    est = np.asarray(model.separate(mix.astype(np.float32), 16000)).reshape(2, -1)[:, :n]
    return float(np.mean(si_sdr(est[best_permutation(est, refs)], refs) - si_sdr(mix[None], refs)))


def voices(ds: SpeakerMixtureDataset) -> str:
    """What a speaker-mixture stream offers: its train files' lengths, how unevenly its speakers own them,
    and how many equally likely speakers its draws amount to (1 / sum of squared draw shares)."""
    entries = [e for e in ds.speech.entries if e.get("speaker")]  # the files a speaker-mixture stream draws from
    seconds = np.array([float(e["duration"]) for e in entries])
    files = np.sort(list(Counter(e["speaker"] for e in entries).values()))[::-1]
    return (
        f"{len(seconds)} train files: median {np.median(seconds):.2f} s, {np.mean(seconds < 1):.0%} under 1 s; "
        f"{len(files)} speakers, the ten largest own {files[:10].sum()} files; "
        f"the draws amount to {1 / np.sum(ds.speaker_shares**2):.1f} equally likely speakers"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stats")
    st.add_argument("--ref", type=Path)
    st.add_argument("--manifest")
    st.add_argument("--fill", action="store_true")
    st.add_argument("--items", type=int, default=200)
    st.add_argument("--speaker-power", type=float, default=1.0, help="speaker_mixture's speaker_power")
    pr = sub.add_parser("probe")
    pr.add_argument("model")
    pr.add_argument("--ref", type=Path, required=True)
    pr.add_argument("--items", type=int, default=30)
    args = ap.parse_args()
    if args.cmd == "stats":
        if args.ref:
            pairs = pairs_from(args.ref, None)
        else:
            ds = stream(args.manifest, args.items, args.fill, args.speaker_power)
            print(voices(ds))
            pairs = pairs_drawn(ds)
        shares = np.array([both_share(a, b) for a, b in pairs])
        print(
            f"{len(shares)} mixtures: both talk on {shares.mean():.1%} of the time; {np.mean(shares < 0.1):.0%} under 10 %"
        )
        return
    import sepkit

    torch.set_num_threads(1)
    net = sepkit.load(args.model)
    pairs = pairs_from(args.ref, args.items)
    as_mixed = [si_sdri(net, a, b) for a, b in pairs]
    talking = [si_sdri(net, without_pauses(a), without_pauses(b)) for a, b in pairs]
    shares = [both_share(without_pauses(a), without_pauses(b)) for a, b in pairs]
    print(
        f"{args.model}: SI-SDRi {np.mean(as_mixed):.2f} dB on {len(pairs)} pairs as mixed, "
        f"{np.mean(talking):.2f} dB with the pauses cut (both talk on {np.mean(shares):.0%} of the time)"
    )


if __name__ == "__main__":
    main()

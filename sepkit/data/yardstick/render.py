"""Yardstick items as signals: a planned row plus the pool -> target(s), noise and mixture.

A clip of 1 s or more is one speaker reading: their least-used utterances joined by pauses to
3-8 s; a shorter clip is one word. Half the 8 kHz items use speech recorded at 8 kHz. Reverberant
items keep the RIR's first 50 ms in the target, as the demo sets do. Babble sums 3-8 other
yardstick speakers at equal level. SNR is set between the speech as heard in the mixture and the
noise over the whole clip; the mixture is then brought to its level and scaled down if any
signal would peak above 0.99.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample
from sepkit.data.augment import reverberate
from sepkit.data.mixing import SILENT_RMS, mix_at_level, rms
from sepkit.data.yardstick import plan as P
from sepkit.data.yardstick.catalog import NARROWBAND_RATE, WIDEBAND_RATE
from sepkit.errors import ManifestError

MIN_SPEECH_SNR_DB = 20.0  # targets come from recordings at least this clean (decode's estimate)
SHORT_MAX_S, LONG_MIN_S = 0.9, 1.0  # utterances for clips under 1 s, and for the others
SHORT_MARGIN_S, LONG_MARGIN_S = (0.0, 0.05), (0.1, 0.5)  # noise-only lead and tail
BABBLE_TALKERS = (3, 8)
MAX_DRAWS = 10
NATIVE_NARROWBAND_SHARE = 0.5  # 8 kHz items: speech recorded at 8 kHz (telephone prompts, codec2) this often
SPEAKER_WEIGHT_CAP = 5  # a speaker is drawn in proportion to their utterances, up to this many
READING_S = (3.0, 8.0)  # clips of 1 s or more: one speaker's utterances joined to about this long
PAUSE_S = (0.2, 0.6)
SEPARATION_READING_S = (2.5, 6.0)

Entry = dict[str, Any]


def load(entry: Entry, rate: int) -> torch.Tensor:
    """A pool file as a mono float tensor at ``rate``."""
    audio, sr = read_audio(entry["path"])
    return resample(torch.from_numpy(audio.mean(axis=0)), sr, rate)


class SpeechBank:
    """The pool's clean speech by speaker, with which speakers can be drawn for which item."""

    def __init__(self, entries: list[Entry], min_snr_db: float = MIN_SPEECH_SNR_DB):
        self.by_speaker: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            if e["kind"] == "speech" and e.get("speaker") and e.get("est_snr_db", math.inf) >= min_snr_db:
                self.by_speaker[e["speaker"]].append(e)
        if len(self.by_speaker) < 2:
            raise ManifestError(f"the yardstick pool holds {len(self.by_speaker)} clean speaker(s); need at least 2")
        self.used: Counter[str] = Counter()  # targets drawn so far per file, so repeats come last

    def utterances(self, speaker: str, short: bool) -> list[Entry]:
        """The speaker's utterances for a clip under 1 s (``short``) or a longer one."""
        return [
            e
            for e in self.by_speaker[speaker]
            if (e["duration"] <= SHORT_MAX_S if short else e["duration"] >= LONG_MIN_S)
        ]

    def speakers(
        self, *, wideband_only: bool, short: bool, english: bool | None = None, exclude: tuple[str, ...] = ()
    ) -> list[str]:
        """Speakers with an utterance of the needed length (native 8 kHz speakers only when allowed)."""
        return sorted(
            s
            for s, es in self.by_speaker.items()
            if s not in exclude
            and self.utterances(s, short)
            and (not wideband_only or es[0]["sample_rate"] >= WIDEBAND_RATE)
            and (english is None or is_english(es[0]) == english)
        )

    def draw(self, candidates: list[str], short: bool, rng: np.random.Generator) -> str:
        """A speaker among ``candidates``, weighted by their utterances up to a cap: all speakers alike, except
        that one with a single recording is not repeated as often."""
        weights = np.array([min(len(self.utterances(s, short)), SPEAKER_WEIGHT_CAP) for s in candidates], dtype=float)
        return candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]

    def speech(
        self, speaker: str, short: bool, seconds: float, rate: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, list[Entry]]:
        """The speaker reading: their least-used utterances, joined by pauses until about ``seconds`` long."""
        utts = list(self.utterances(speaker, short))
        parts: list[torch.Tensor] = []
        taken: list[Entry] = []
        while utts and (not parts or sum(p.shape[0] for p in parts) < seconds * rate):
            fewest = min(self.used[e["path"]] for e in utts)
            least = [e for e in utts if self.used[e["path"]] == fewest]
            utt = least[int(rng.integers(len(least)))]
            self.used[utt["path"]] += 1
            utts.remove(utt)
            if parts:
                parts.append(torch.zeros(int(rng.uniform(*PAUSE_S) * rate)))
            parts.append(load(utt, rate))
            taken.append(utt)
            if short:  # one word or phrase
                break
        return torch.cat(parts), taken


def is_english(entry: Entry) -> bool:
    """Whether a recording is English (``en``, ``en_GB``, ...): the private set it should predict is."""
    return str(entry.get("lang") or "").startswith("en")


@dataclass
class Noises:
    """Noise files by family, then by source (a source is drawn first, so no package dominates a family)."""

    by_family: dict[str, dict[str, list[Entry]]]

    @classmethod
    def from_pool(cls, entries: list[Entry]) -> Noises:
        out: dict[str, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
        for e in entries:
            if e["kind"] in ("noise", "music") and e.get("family"):
                out[e["family"]][e["source"]].append(e)
        return cls({f: dict(s) for f, s in out.items()})

    def draw(self, family: str, n: int, rate: int, rng: np.random.Generator) -> tuple[torch.Tensor, list[str]]:
        """``n`` samples of a random file of ``family`` at ``rate`` (cropped, or looped when short)."""
        if family not in self.by_family:
            raise ManifestError(f"the yardstick pool has no noise of family {family!r}")
        sources = sorted(self.by_family[family])
        for _ in range(MAX_DRAWS):
            files = self.by_family[family][sources[int(rng.integers(len(sources)))]]
            e = files[int(rng.integers(len(files)))]
            wav = load(e, rate)
            start = int(rng.integers(0, wav.shape[0] - n + 1 if wav.shape[0] >= n else wav.shape[0]))
            clip = wav.repeat(math.ceil((n + start) / wav.shape[0]))[start : start + n]
            if rms(clip) > SILENT_RMS / 10:
                return clip, [f"{e['package']}:{e['original']}"]
        raise ManifestError(f"{e['path']}: {MAX_DRAWS} noise crops in a row were silent")


def babble(
    bank: SpeechBank, n: int, rate: int, rng: np.random.Generator, target: str
) -> tuple[torch.Tensor, list[str]]:
    """3-8 other speakers talking at once, each a chain of their own utterances at equal level."""
    talkers = bank.speakers(wideband_only=True, short=False, exclude=(target,))
    k = min(len(talkers), int(rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1)))
    if k < 1:
        raise ManifestError("no other speaker for babble")
    chosen = [talkers[i] for i in rng.choice(len(talkers), size=k, replace=False)]
    total = torch.zeros(n, dtype=torch.float64)
    for speaker in chosen:
        utts = bank.utterances(speaker, short=False)
        parts, have = [], 0
        while have < n + rate:  # one extra second, to start inside the first utterance
            wav = load(utts[int(rng.integers(len(utts)))], rate)
            gap = torch.zeros(int(rng.uniform(0.05, 0.3) * rate))
            parts += [wav, gap]
            have += wav.shape[0] + gap.shape[0]
        chain = torch.cat(parts)
        start = int(rng.integers(0, chain.shape[0] - n + 1))
        stream = chain[start : start + n].double()
        total += stream / max(rms(stream), 1e-8)
    return total.float(), chosen


def _pad(
    wav: torch.Tensor, rate: int, margins: tuple[float, float], rng: np.random.Generator, max_len: int | None = None
) -> torch.Tensor:
    lead, tail = (int(rng.uniform(*margins) * rate) for _ in range(2))
    if max_len is not None:
        tail = max(0, min(tail, max_len - lead - wav.shape[0]))
    return torch.nn.functional.pad(wav, (lead, tail))[:max_len]


def _scale_to_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    return noise * (rms(speech) / max(rms(noise), 1e-12) / 10 ** (snr_db / 20))


def _finish(targets: torch.Tensor, wet: torch.Tensor, noise: torch.Tensor, level_db: float) -> dict[str, Any]:
    """Scale to ``level_db`` RMS, then down if any signal would peak above 0.99."""
    mixture, targets, noise = mix_at_level(wet, noise, targets, level_db)
    return {
        "mixture": mixture.float(),
        "sources": targets.float(),
        "noise": noise.float(),
        "level_dbfs": round(20 * math.log10(max(rms(mixture), 1e-12)), 3),
    }


def enhancement_item(
    row: dict[str, str], bank: SpeechBank, noises: Noises, rirs: list[Entry], rng: np.random.Generator
) -> dict[str, Any]:
    """One noisy utterance for the planned ``row``: signals plus what was drawn (the row's slices as realised)."""
    narrow, short = row["bandwidth"] == P.NARROW, row["length"] == P.SHORT
    rate = NARROWBAND_RATE if narrow else WIDEBAND_RATE
    english = row["language"] == P.ENGLISH
    candidates = bank.speakers(wideband_only=not narrow, short=short, english=english) or bank.speakers(
        wideband_only=not narrow, short=short
    )
    if not candidates:
        raise ManifestError(f"no yardstick speaker has utterances for a {row['clip']} clip")
    native = [c for c in candidates if bank.by_speaker[c][0]["sample_rate"] <= NARROWBAND_RATE]
    if narrow and native and rng.random() < NATIVE_NARROWBAND_SHARE:
        candidates = native
    speaker = bank.draw(candidates, short, rng)
    speech, utts = bank.speech(speaker, short, float(rng.uniform(*READING_S)), rate, rng)
    max_len = int(0.99 * rate) if short else None
    dry = _pad(speech, rate, SHORT_MARGIN_S if short else LONG_MARGIN_S, rng, max_len)
    wet, target, rir = dry, dry, None
    if row["reverb"] == P.REVERB and rirs:
        rir_entry = rirs[int(rng.integers(len(rirs)))]
        wet, target = reverberate(dry, load(rir_entry, rate), rate)
        rir = f"{rir_entry['package']}:{rir_entry['original']}"
    if row["noise"] == "babble":
        noise, noise_from = babble(bank, dry.shape[0], rate, rng, speaker)
    else:
        noise, noise_from = noises.draw(row["noise"], dry.shape[0], rate, rng)
    snr = float(rng.uniform(*P.SNR_BANDS[row["snr"]]))
    noise = _scale_to_snr(wet, noise, snr)
    level = P.QUIET_DBFS if row["level"] == P.QUIET else float(rng.uniform(*P.LEVEL_RANGE_DBFS))
    item = _finish(target[None], wet, noise, level)
    slices = dict(row, language=P.ENGLISH if is_english(utts[0]) else P.OTHER, reverb=P.REVERB if rir else P.DRY)
    return item | {
        "sample_rate": rate,
        "snr_db": round(snr, 3),
        "slices": slices,
        "speaker": speaker,
        "lang": utts[0].get("lang"),
        "speech": [f"{u['package']}:{u['original']}" for u in utts],
        "rir": rir,
        "noise_family": row["noise"],
        "noise_from": noise_from,
    }


def separation_item(row: dict[str, str], bank: SpeechBank, noises: Noises, rng: np.random.Generator) -> dict[str, Any]:
    """Two different speakers, fully or partly overlapping, at a relative gain, with no or light noise."""
    rate = WIDEBAND_RATE
    everyone = bank.speakers(wideband_only=True, short=False)
    firsts = bank.speakers(wideband_only=True, short=False, english=row["language"] == P.ENGLISH)
    if len(everyone) < 2:
        raise ManifestError("the yardstick pool needs two wideband speakers with utterances of 1 s or more")
    first = bank.draw(firsts or everyone, False, rng)
    seconds = [s for s in (firsts if row["language"] == P.ENGLISH else everyone) if s != first] or [
        s for s in everyone if s != first
    ]
    second = bank.draw(seconds, False, rng)
    readings = [bank.speech(s, False, float(rng.uniform(*SEPARATION_READING_S)), rate, rng) for s in (first, second)]
    wavs, picked = [w for w, _ in readings], [u for _, us in readings for u in us]
    magnitude = float(rng.uniform(*P.GAIN_BANDS[row["gain"]]))
    gain = magnitude if rng.random() < 0.5 else -magnitude  # of the second speaker relative to the first
    wavs = [wavs[0] / max(rms(wavs[0]), 1e-8), wavs[1] * (10 ** (gain / 20) / max(rms(wavs[1]), 1e-8))]
    n1, n2 = wavs[0].shape[0], wavs[1].shape[0]
    if row["overlap"] == P.FULL:  # the shorter one lies wholly inside the longer one
        n = max(n1, n2)
        offsets = [0, int(rng.integers(0, n - n2 + 1))] if n1 >= n2 else [int(rng.integers(0, n - n1 + 1)), 0]
        share = 1.0
    else:  # the second starts while the first is still talking
        share = float(rng.uniform(0.25, 0.75))
        overlap = int(share * min(n1, n2))
        offsets = [0, n1 - overlap]
        n = max(n1, offsets[1] + n2)
    targets = torch.zeros(2, n)
    for k, (wav, off) in enumerate(zip(wavs, offsets)):
        targets[k, off : off + wav.shape[0]] = wav
    speech = targets.sum(0)
    noise, noise_from, snr = torch.zeros(n), [], None
    if row["noise"] == P.LIGHT_NOISE:
        families = sorted(noises.by_family)  # recorded families only: babble would be a third talker
        family = families[int(rng.integers(len(families)))]
        noise, noise_from = noises.draw(family, n, rate, rng)
        snr = float(rng.uniform(*P.LIGHT_SNR_DB))
        noise = _scale_to_snr(speech, noise, snr)
        noise_from = [f"{family}: {x}" for x in noise_from]
    item = _finish(targets, speech, noise, float(rng.uniform(*P.LEVEL_RANGE_DBFS)))
    both_english = all(is_english(e) for e in picked)
    slices = dict(row, language=P.ENGLISH if both_english else P.OTHER)
    return item | {
        "sample_rate": rate,
        "snr_db": None if snr is None else round(snr, 3),
        "slices": slices,
        "speakers": [first, second],
        "speech": [[f"{u['package']}:{u['original']}" for u in us] for _, us in readings],
        "gain_db": round(gain, 3),
        "overlap_share": round(share, 3),
        "noise_from": noise_from,
    }

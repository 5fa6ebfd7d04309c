"""On-the-fly mixing datasets: every item is a pure function of ``(seed, epoch, index)``.

Items are dicts: ``mixture`` (T,), ``sources`` (K, T) targets, ``noise`` (T,) (zeros when none was
added), the sampled ``snr_db`` / ``level_db`` / ``gains_db`` / ``reverberant``, and ``info``
(the files, offsets, speed factors and RIRs used). Fixed dev/test sets are the first N items
at epoch 0; training calls ``set_epoch`` so each epoch draws new mixtures and resumes exactly.

SNR is measured over the whole segment, between the speech as it appears in the mixture
(reverberant when a RIR was applied) and the noise. Reverberant targets keep the first 50 ms of
the RIR after its direct path. Everything is finally scaled to a random RMS level, and scaled
down again if any signal would peak above 0.99, so writing to 16-bit never clips.

``speech_min`` (e.g. ``{"dnsmos_bak": 3.8}``) draws speech only from files whose manifest fields
reach those values: clean targets from a corpus rated by ``sepkit data rate``.
"""

from __future__ import annotations

import copy
import math
import os
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sepkit.data.augment import Augmentation, reverberate, speed_perturb
from sepkit.data.corruption import Corruption, clip, coded, narrowband, random_colouring, stationary_noise
from sepkit.data.sources import AudioPool, ManifestLike, load_entries
from sepkit.errors import ConfigError, ManifestError

PEAK = 0.99
SILENT_RMS = 1e-4  # a speech crop quieter than this (-80 dBFS) is drawn again
MAX_DRAWS = 10


def rms(x: torch.Tensor) -> float:
    """Root mean square of all samples."""
    return float(x.double().pow(2).mean().sqrt())


def snr_db(signal: torch.Tensor, noise: torch.Tensor) -> float:
    """10 log10 of the energy ratio of ``signal`` to ``noise``."""
    return 10 * math.log10(float(signal.double().pow(2).sum()) / float(noise.double().pow(2).sum()))


def mix_at_level(
    speech: torch.Tensor, noise: torch.Tensor, targets: torch.Tensor, level_db: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mixture, targets, noise)``, scaled together so the mixture ``speech + noise`` has ``level_db`` dB RMS, then
    down so that none of them peaks above ``PEAK``."""
    mixture = speech + noise
    scale = 10 ** (level_db / 20) / max(rms(mixture), 1e-12)
    peak = scale * max(float(mixture.abs().max()), float(targets.abs().max()), float(noise.abs().max()))
    if peak > PEAK:
        scale *= PEAK / peak
    return mixture * scale, targets * scale, noise * scale


@dataclass(frozen=True, kw_only=True)
class MixingOptions:
    """How an on-the-fly set draws and mixes: the keys its config section shares with the other mixing sets.

    A config section's keys are these fields plus the set's own constructor arguments (the manifests,
    ``n_src``, ...); ``build_dataset`` makes the options once (``MixingDataset.make_options``) and passes them.
    Each dataset type reads some of the fields (``option_keys``) and refuses a value for the others.
    """

    sample_rate: int = 16000
    segment_seconds: float | tuple[float, float] = 4.0  # one length, or a (min, max) range drawn per item
    snr_range: tuple[float, float] = (-5.0, 20.0)  # dB, speech against noise
    rir_manifest: ManifestLike | None = None
    reverb_prob: float = 0.0  # share of reverberant items (needs rir_manifest)
    level_range_db: tuple[float, float] = (-35.0, -15.0)  # RMS level of the mixture, dBFS
    augment: Augmentation | None = None  # speed and EQ of the speech
    noise_augment: Augmentation | None = None  # EQ of the noise
    seed: int = 0
    length: int | None = None  # items per epoch; default: one per speech file
    split: str | None = None  # the manifests' split to draw from
    cache: bool = False  # keep decoded files in memory
    speech_min: dict[str, float] | None = None  # manifest fields speech files must reach, e.g. {"dnsmos_bak": 3.8}
    corrupt: Corruption | None = None
    noise_weights: list[float] | None = None  # each noise manifest's share of the noise draws


OPTION_KEYS = tuple(f.name for f in fields(MixingOptions))


class MixingDataset(Dataset):
    """Shared machinery: segment lengths, speech/noise/RIR draws, SNR, level and peak control."""

    n_src = 1
    defaults = MixingOptions()  # the options of a config section that sets none
    option_keys: tuple[str, ...] = OPTION_KEYS  # the options this type reads

    @classmethod
    def make_options(cls, **keys: Any) -> MixingOptions:
        """This type's ``defaults`` with ``keys`` replaced; ``TypeError`` for an option it does not read."""
        unknown = [k for k in keys if k not in cls.option_keys]
        if unknown:
            raise TypeError(f"{cls.__name__} takes no option {', '.join(map(repr, unknown))}")
        return replace(cls.defaults, **keys)

    def __init__(
        self,
        speech_manifest: ManifestLike,
        options: MixingOptions | None = None,
        *,
        noise_manifest: ManifestLike | None = None,
    ):
        o = type(self).defaults if options is None else options
        unread = [f.name for f in fields(o) if f.name not in self.option_keys and getattr(o, f.name) != f.default]
        if unread:
            raise ValueError(f"{type(self).__name__} does not read the option(s) {', '.join(unread)}")
        lo, hi = (o.segment_seconds, o.segment_seconds) if np.isscalar(o.segment_seconds) else o.segment_seconds
        if not 0 < lo <= hi:
            raise ConfigError(f"segment_seconds: need 0 < min <= max, got {o.segment_seconds!r}")
        if o.reverb_prob > 0 and o.rir_manifest is None:
            raise ConfigError(f"reverb_prob={o.reverb_prob} needs an rir_manifest")
        self.options = o
        self.sample_rate, self.seed, self.split, self.epoch = o.sample_rate, o.seed, o.split, 0
        self.segment = (int(round(lo * o.sample_rate)), int(round(hi * o.sample_rate)))
        self.snr_range, self.level_range_db, self.reverb_prob = o.snr_range, o.level_range_db, o.reverb_prob
        self.augment, self.noise_augment = o.augment or Augmentation(), o.noise_augment or Augmentation()
        self.corrupt = o.corrupt or Corruption()
        self.speech = AudioPool(load_entries(speech_manifest, o.split, minimum=o.speech_min), o.sample_rate, o.cache)
        self.noise = None
        if noise_manifest:
            groups = _noise_groups(noise_manifest, o.split, o.noise_weights)
            self.noise = AudioPool([e for entries, _ in groups for e in entries], o.sample_rate, o.cache)
        self.rirs = AudioPool(load_entries(o.rir_manifest, o.split), o.sample_rate, o.cache) if o.rir_manifest else None
        self.length = len(self.speech) if o.length is None else o.length
        if self.noise is not None:  # within a manifest, files are drawn in proportion to their duration
            self._noise_p = np.concatenate([share * _duration_shares(entries) for entries, share in groups])

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Draw a new, still reproducible, set of mixtures for each training epoch."""
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of {self.length} items")
        return np.random.default_rng([self.seed, self.epoch, index])

    def _segment_length(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.segment[0], self.segment[1] + 1))

    def _speech_crop(
        self, i: int, n: int, rng: np.random.Generator, pool: AudioPool | None = None, speed: float | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """``n`` samples of speech file ``i`` of ``pool`` (default: the speech): random crop (long files) or random
        placement (short files)."""
        wav, info = self._speech_piece(i, n, rng, pool, speed)
        offset = int(rng.integers(0, n - wav.shape[0] + 1))
        return torch.nn.functional.pad(wav, (offset, n - wav.shape[0] - offset)), info

    def _speech_piece(
        self, i: int, n: int, rng: np.random.Generator, pool: AudioPool | None = None, speed: float | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """At most ``n`` samples of speech file ``i``, speed-perturbed (by ``speed``, else a drawn factor) and
        equalised: a random crop of a long file, a short file whole."""
        pool = self.speech if pool is None else pool
        speed = self.augment.draw_speed(rng) if speed is None else speed
        need = math.ceil(n * speed) + 1
        frames = pool.frames(i)
        start = pool.aligned(i, int(rng.integers(0, frames - need + 1))) if frames > need else 0
        wav = speed_perturb(pool.crop(i, start, min(need, frames)), self.sample_rate, speed)
        wav = self.augment.equalize(wav, self.sample_rate, rng)[:n]
        e = self.speech.entries[i]
        return wav, {
            "speech_files": e["path"],
            "speakers": e.get("speaker") or "",
            "speech_starts": start / self.sample_rate,
            "speeds": speed,
        }

    def _draw_speech(
        self,
        n: int,
        rng: np.random.Generator,
        candidates: np.ndarray | None = None,
        twin: AudioPool | None = None,
        pad: bool = True,
        speed: float | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """A non-silent speech crop from a file drawn uniformly among ``candidates`` (default: all).

        With ``twin`` (files sample-aligned with the speech's, e.g. the clean versions of noisy recordings) the
        same crop of the twin file is in ``info["twin"]``. ``pad=False`` leaves a short file unpadded; ``speed``
        fixes the speed factor (default: one drawn per crop).
        """
        crop = self._speech_crop if pad else self._speech_piece
        for _ in range(MAX_DRAWS):
            i = int(rng.choice(candidates)) if candidates is not None else int(rng.integers(len(self.speech)))
            replay = copy.deepcopy(rng) if twin is not None else None
            wav, info = crop(i, n, rng, speed=speed)
            if rms(wav) > SILENT_RMS:
                if twin is not None:
                    info["twin"] = crop(i, n, replay, twin, speed)[0]
                return wav, info
        raise ManifestError(
            f"{info['speech_files']}: {MAX_DRAWS} speech crops in a row were silent; check the manifest"
        )

    def _filled_speech(
        self,
        n: int,
        rng: np.random.Generator,
        candidates: np.ndarray,
        pause_seconds: tuple[float, float],
        speed: float | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """``n`` samples of one talker speaking throughout: pieces of files drawn among ``candidates`` (one
        speaker's), joined by pauses drawn from ``pause_seconds``, as a talker's turn holds several
        utterances; ``info`` is the first piece's, with every piece's file in ``pieces`` (joined by " + ").
        ``speed`` plays every piece at that one factor (one voice); by default each piece draws its own."""
        parts: list[torch.Tensor] = []
        infos: list[dict[str, Any]] = []
        got = 0
        while True:  # every piece and pause fits in what is left, so the parts add up to n exactly
            piece, info = self._draw_speech(n - got, rng, candidates, pad=False, speed=speed)
            parts.append(piece), infos.append(info)
            got += piece.shape[0]
            if got >= n:
                break
            pause = min(int(round(rng.uniform(*pause_seconds) * self.sample_rate)), n - got)
            parts.append(torch.zeros(pause))
            got += pause
            if got >= n:
                break
        return torch.cat(parts), infos[0] | {"pieces": " + ".join(i["speech_files"] for i in infos)}

    def _looped_crop(self, pool: AudioPool, i: int, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
        """``n`` samples of file ``i`` of ``pool`` and their start: a random crop, or a short file looped from a
        random point."""
        frames = pool.frames(i)
        if frames >= n:
            start = pool.aligned(i, int(rng.integers(0, frames - n + 1)))
            return pool.crop(i, start, n), start
        start = int(rng.integers(0, frames))
        whole = pool.load(i)
        return whole.repeat(math.ceil((n + start) / whole.shape[0]))[start : start + n], start

    def _draw_noise(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        """``n`` samples of noise: a random crop, or a short file looped from a random point."""
        assert self.noise is not None
        for _ in range(MAX_DRAWS):
            i = int(rng.choice(len(self.noise), p=self._noise_p))
            wav, start = self._looped_crop(self.noise, i, n, rng)
            wav = self.noise_augment.equalize(wav, self.sample_rate, rng)
            if rms(wav) > SILENT_RMS / 10:
                return wav, {"noise_file": self.noise.path(i), "noise_start": start / self.sample_rate}
        raise ManifestError(f"{self.noise.path(i)}: {MAX_DRAWS} noise crops in a row were silent; check the manifest")

    def _babble(
        self, n: int, rng: np.random.Generator, exclude_speakers: tuple[str, ...]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Babble: the sum of 3-8 (``corrupt.babble_talkers``) speech crops of speakers other than the targets."""
        want = int(rng.integers(self.corrupt.babble_talkers[0], self.corrupt.babble_talkers[1] + 1))
        wav, talkers = torch.zeros(n), []
        for _ in range(want * MAX_DRAWS):
            if len(talkers) == want:
                break
            i = int(rng.integers(len(self.speech)))
            speaker = self.speech.entries[i].get("speaker") or self.speech.path(i)
            if speaker in exclude_speakers:
                continue
            crop, _ = self._looped_crop(self.speech, i, n, rng)
            if rms(crop) > SILENT_RMS:
                wav += crop * (10 ** (float(rng.uniform(-3, 3)) / 20) / rms(crop))
                talkers.append(speaker)
        if not talkers:
            raise ManifestError(
                f"babble: no speech of a speaker other than {', '.join(exclude_speakers)} in the manifest"
            )
        return wav, {"noise_file": "babble:" + ",".join(talkers), "noise_start": 0.0}

    def _noise_signal(
        self, n: int, rng: np.random.Generator, exclude_speakers: tuple[str, ...]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Noise of the family ``corrupt`` draws (a recording, babble or stationary), coloured with ``colour_prob``."""
        family = self.corrupt.noise_family(rng) if self.corrupt.active else "file"
        if family == "babble":
            wav, info = self._babble(n, rng, exclude_speakers)
        elif family == "stationary":
            wav, kind = stationary_noise(n, self.sample_rate, rng)
            info = {"noise_file": kind, "noise_start": 0.0}
        else:
            wav, info = self._draw_noise(n, rng)
        if self.corrupt.active and rng.random() < self.corrupt.colour_prob:
            wav = random_colouring(wav, rng)
        return wav, info | {"noise_family": family}

    def _reverb(self, wav: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, str]:
        """``(reverberant, target, rir path)``; with probability ``1 - reverb_prob`` the dry signal twice."""
        if self.rirs is None or rng.random() >= self.reverb_prob:
            return wav, wav, ""
        i = int(rng.integers(len(self.rirs)))
        full, early = reverberate(wav, self.rirs.load(i), self.sample_rate)
        return full, early, self.rirs.path(i)

    def _add_noise(
        self, speech: torch.Tensor, rng: np.random.Generator, exclude_speakers: tuple[str, ...] = ()
    ) -> tuple[torch.Tensor, float, dict[str, Any]]:
        """Noise scaled to a random SNR against ``speech``, or zeros (SNR = inf) without a noise manifest."""
        if self.noise is None:
            return torch.zeros_like(speech), math.inf, {"noise_file": "", "noise_start": 0.0}
        noise, info = self._noise_signal(speech.shape[0], rng, exclude_speakers)
        snr = float(rng.uniform(*self.snr_range))
        noise = noise * math.sqrt(rms(speech) ** 2 / (rms(noise) ** 2 * 10 ** (snr / 10)))
        return noise, snr, info

    def _narrowband(
        self, corrupt: Corruption, rng: np.random.Generator, effects: list[str], *signals: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """``signals`` (speech, targets, noise: one channel for all) band-limited with ``narrowband_prob``."""
        if rng.random() >= corrupt.narrowband_prob:
            return signals
        highpass = bool(rng.random() < 0.5)
        effects.append("narrowband")
        return tuple(narrowband(x, self.sample_rate, highpass) for x in signals)

    def _channel(self, item: dict[str, Any], corrupt: Corruption, rng: np.random.Generator, effects: list[str]) -> None:
        """Non-linear channel effects on the item's mixture alone (clipping, then a codec); labels the item."""
        mixture = item["mixture"]
        if rng.random() < corrupt.clip_prob:
            mixture = clip(mixture, float(rng.uniform(*corrupt.clip_range)))
            effects.append("clipped")
        if rng.random() < corrupt.codec_prob:
            # one codec draws nothing more, so configs written before the choice keep their items
            codec = (
                corrupt.codecs[int(rng.integers(len(corrupt.codecs)))] if len(corrupt.codecs) > 1 else corrupt.codecs[0]
            )
            mixture = coded(mixture, self.sample_rate, codec)
            effects.append(codec)
        item["mixture"] = mixture
        item["info"]["effects"] = "+".join(effects)  # a string: batches collate it

    def _finish(
        self,
        index: int,
        targets: torch.Tensor,
        speech: torch.Tensor,
        noise: torch.Tensor,
        snr: float,
        gains_db: list[float],
        info: dict[str, Any],
        reverberant: bool,
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        """Scale to a random RMS level, keep every peak at or below 0.99, package the item."""
        mixture, targets, noise = mix_at_level(speech, noise, targets, float(rng.uniform(*self.level_range_db)))
        return {
            "mixture": mixture.float(),
            "sources": targets.float(),
            "noise": noise.float(),
            "snr_db": snr,
            "level_db": 20 * math.log10(max(rms(mixture), 1e-12)),
            "gains_db": torch.tensor(gains_db, dtype=torch.float32),
            "reverberant": reverberant,
            "index": index,
            "info": info,
        }


class NoisySpeechDataset(MixingDataset):
    """Enhancement items: one speech source, optionally reverberated, plus noise at a random SNR."""

    def __init__(
        self, speech_manifest: ManifestLike, noise_manifest: ManifestLike, options: MixingOptions | None = None
    ):
        super().__init__(speech_manifest, options, noise_manifest=noise_manifest)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        n = self._segment_length(rng)
        dry, info = self._draw_speech(n, rng)
        corrupt = self.corrupt if self.corrupt.active else None
        if corrupt and rng.random() < corrupt.colour_prob:
            dry = random_colouring(dry, rng)  # the microphone: heard in the target too
        wet, target, rir = self._reverb(dry, rng)
        noise, snr, noise_info = self._add_noise(wet, rng, exclude_speakers=(info["speakers"],))
        effects: list[str] = []
        if corrupt:
            wet, target, noise = self._narrowband(corrupt, rng, effects, wet, target, noise)
        info = {k: [v] for k, v in info.items()} | {"rirs": [rir]} | noise_info
        item = self._finish(index, target[None], wet, noise, snr, [0.0], info, bool(rir), rng)
        if corrupt:
            self._channel(item, corrupt, rng, effects)
        return item


class SpeakerMixtureDataset(MixingDataset):
    """Separation items: ``n_src`` utterances of different speakers at random relative gains, optional noise.

    Entries without a speaker are left out, as their speaker could repeat inside a mixture.
    Speakers are drawn with probability proportional to their number of utterances raised to
    ``speaker_power``: 1 (the default) in proportion to their utterances, 0 uniformly, 0.5 between. A corpus
    in which a few speakers own most files (the demo corpus: 161 speakers, as varied as 20 equally likely
    ones at power 1, 65 at 0.5) otherwise teaches a separator few voices.
    ``overlap_range`` (two speakers) draws the overlapping share of the segment: the first speaker
    talks from its start, the second until its end (``info["active_starts"]``, ``["active_stops"]``: seconds);
    ``noise_prob`` adds noise (needs ``noise_manifest``) to that share of the mixtures only.
    ``fill_speech`` makes each talker speak throughout its span, as in a conversation or a meeting:
    utterances of the same speaker joined by ``pause_seconds`` pauses. Without it a file shorter than
    the span sits in silence at a random place, so two short utterances may barely overlap however
    much their spans do (in the demo corpus half the files are under 1.6 s). ``speed_per_talker`` (with
    ``fill_speech``) plays all of one talker's pieces at one drawn speed factor, so that a talker keeps one
    pitch, as a real voice does, and a wide ``augment.speed_factors`` range makes new voices instead of
    one talker whose pitch jumps between utterances.
    ``corrupt`` widens the speech side as for enhancement: each talker its own microphone colouring,
    the whole scene through a narrowband channel, babble or stationary noise, clipping and mu-law of
    the mixture; linear effects reach the targets too.
    """

    option_keys = tuple(k for k in OPTION_KEYS if k != "noise_weights")

    def __init__(
        self,
        speech_manifest: ManifestLike,
        options: MixingOptions | None = None,
        *,
        n_src: int = 2,
        noise_manifest: ManifestLike | None = None,
        gain_range_db: tuple[float, float] = (-5.0, 5.0),
        overlap_range: tuple[float, float] | None = None,
        noise_prob: float = 1.0,
        fill_speech: bool = False,
        pause_seconds: tuple[float, float] = (0.05, 0.4),
        speaker_power: float = 1.0,
        speed_per_talker: bool = False,
    ):
        super().__init__(speech_manifest, options, noise_manifest=noise_manifest)
        if speed_per_talker and not fill_speech:
            raise ConfigError("speed_per_talker needs fill_speech: true (without it a talker is one piece already)")
        if not 0 <= speaker_power <= 1:
            raise ConfigError(f"speaker_power must be in [0, 1], not {speaker_power!r}")
        if not 0 <= pause_seconds[0] <= pause_seconds[1]:
            raise ConfigError(f"pause_seconds: need 0 <= min <= max, got {pause_seconds!r}")
        self.fill_speech, self.pause_seconds = bool(fill_speech), (float(pause_seconds[0]), float(pause_seconds[1]))
        self.speed_per_talker = bool(speed_per_talker)
        if overlap_range is not None and not (n_src == 2 and 0 < overlap_range[0] <= overlap_range[1] <= 1):
            raise ConfigError(f"overlap_range: needs n_src=2 and 0 < min <= max <= 1, got {overlap_range!r}")
        if not 0 <= noise_prob <= 1:
            raise ConfigError(f"noise_prob must be in [0, 1], not {noise_prob!r}")
        self.n_src, self.gain_range_db = n_src, gain_range_db
        self.overlap_range, self.noise_prob = overlap_range, float(noise_prob)
        by_speaker: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(self.speech.entries):
            if e.get("speaker"):
                by_speaker[e["speaker"]].append(i)
        if len(by_speaker) < n_src:
            raise ManifestError(
                f"{_name(speech_manifest)}: {len(by_speaker)} speaker(s) in split {self.split!r}, "
                f"need at least n_src={n_src} with a 'speaker' field"
            )
        self.speakers = sorted(by_speaker)
        self._utts = [np.array(by_speaker[s]) for s in self.speakers]
        self._weights = np.array([len(u) for u in self._utts], dtype=np.float64) ** float(speaker_power)

    @property
    def speaker_shares(self) -> np.ndarray:
        """Each speaker's chance (order of ``speakers``) of being a mixture's first talker."""
        return self._weights / self._weights.sum()

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        n = self._segment_length(rng)
        spans = overlap_spans(n, float(rng.uniform(*self.overlap_range)), rng) if self.overlap_range else None
        corrupt = self.corrupt if self.corrupt.active else None
        free = np.ones(len(self.speakers), dtype=bool)
        wets, targets, gains, info = [], [], [], defaultdict(list)
        for s in range(self.n_src):
            p = self._weights * free
            k = int(rng.choice(len(self.speakers), p=p / p.sum()))
            free[k] = False
            start, stop = spans[s] if spans else (0, n)
            if self.fill_speech:
                speed = self.augment.draw_speed(rng) if self.speed_per_talker else None
                dry, one = self._filled_speech(stop - start, rng, self._utts[k], self.pause_seconds, speed)
            else:
                dry, one = self._draw_speech(stop - start, rng, self._utts[k])
            if corrupt and rng.random() < corrupt.colour_prob:
                dry = random_colouring(dry, rng)  # this talker's microphone: heard in its target too
            gain = float(rng.uniform(*self.gain_range_db))
            dry = torch.nn.functional.pad(dry * (10 ** (gain / 20) / rms(dry)), (start, n - stop))
            wet, target, rir = self._reverb(dry, rng)
            wets.append(wet), targets.append(target), gains.append(gain)
            for key, v in (one | {"rirs": rir}).items():
                info[key].append(v)
            if spans:
                info["active_starts"].append(start / self.sample_rate)
                info["active_stops"].append(stop / self.sample_rate)
        speech = torch.stack(wets).sum(0)
        if self.noise_prob < 1 and rng.random() >= self.noise_prob:
            noise, snr, noise_info = (
                torch.zeros_like(speech),
                math.inf,
                {"noise_file": "", "noise_start": 0.0, "noise_family": "none"},
            )
        else:
            noise, snr, noise_info = self._add_noise(speech, rng, exclude_speakers=tuple(info["speakers"]))
        sources, effects = torch.stack(targets), []
        if corrupt:
            speech, sources, noise = self._narrowband(corrupt, rng, effects, speech, sources, noise)
        reverberant = any(info["rirs"])
        item = self._finish(index, sources, speech, noise, snr, gains, dict(info) | noise_info, reverberant, rng)
        if corrupt:
            self._channel(item, corrupt, rng, effects)
        return item


def overlap_spans(n: int, share: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Two speakers' ``(start, stop)`` in a segment of ``n`` samples, overlapping on ``share`` of it.

    The first talks from the start, the second until the end; together they cover the segment, and
    the first one's length is drawn uniformly among those that allow the overlap.
    """
    both = max(1, int(round(share * n)))
    first = int(rng.integers(both, n + 1))
    return [(0, first), (first - both, n)]


def _noise_groups(
    manifest: ManifestLike, split: str | None, weights: list[float] | None
) -> list[tuple[list[dict[str, Any]], float]]:
    """``(entries, share of noise draws)`` per manifest: one group weighted 1 unless ``weights`` gives each
    manifest of a list its share (e.g. noise 0.8, music 0.2, whatever their durations)."""
    if weights is None:
        return [(load_entries(manifest, split), 1.0)]
    paths = [manifest] if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    if len(weights) != len(paths) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(
            f"noise_weights: need one non-negative share per noise manifest ({len(paths)}), not {weights!r}"
        )
    total = float(sum(weights))
    return [(load_entries(p, split), w / total) for p, w in zip(paths, weights) if w > 0]


def _duration_shares(entries: list[dict[str, Any]]) -> np.ndarray:
    durations = np.array([e["duration"] for e in entries], dtype=np.float64)
    return durations / durations.sum()


def _name(manifest: ManifestLike) -> str:
    return str(manifest) if not isinstance(manifest, list) else "entry list"

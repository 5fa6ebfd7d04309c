"""On-the-fly mixing: determinism, exact SNR, reverberant targets, no clipping, disjoint speakers, resampling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data_fixtures import noise_corpus, rir_corpus, speech_corpus, tone, write
from sepkit.data.augment import Augmentation, early_rir, fft_convolve, reverberate, speed_perturb
from sepkit.data.manifest import file_entry
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset, SpeakerMixtureDataset, rms, snr_db
from sepkit.data.sources import AudioPool
from sepkit.errors import ConfigError, ManifestError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    return {
        "speech": speech_corpus(root / "speech", speakers=5, split="train"),
        "noise": noise_corpus(root / "noise"),
        "rir": rir_corpus(root / "rir"),
    }


def _enh(corpus: dict[str, Path], **kw) -> NoisySpeechDataset:
    args = dict(segment_seconds=1.0, length=20, seed=3) | kw
    return NoisySpeechDataset(corpus["speech"], corpus["noise"], MixingOptions(**args))


def test_same_seed_and_index_give_identical_items(corpus: dict[str, Path]) -> None:
    a, b = _enh(corpus), _enh(corpus)
    for i in (0, 7):
        x, y = a[i], b[i]
        assert torch.equal(x["mixture"], y["mixture"]) and torch.equal(x["sources"], y["sources"])
        assert torch.equal(x["noise"], y["noise"]) and x["snr_db"] == y["snr_db"]
    assert not torch.equal(a[0]["mixture"], a[1]["mixture"])
    assert not torch.equal(a[0]["mixture"], _enh(corpus, seed=4)[0]["mixture"])
    a.set_epoch(1)
    assert not torch.equal(a[0]["mixture"], b[0]["mixture"])  # a new epoch draws new mixtures
    with pytest.raises(IndexError):
        a[20]


def test_item_shapes_and_types(corpus: dict[str, Path]) -> None:
    item = _enh(corpus, segment_seconds=(0.5, 0.8))[2]
    n = item["mixture"].shape[0]
    assert 8000 <= n <= 12800 and item["sources"].shape == (1, n) and item["noise"].shape == (n,)
    assert item["mixture"].dtype == torch.float32 and item["info"]["speakers"][0].startswith("spk")


def test_mixture_snr_matches_the_sampled_snr(corpus: dict[str, Path]) -> None:
    ds = _enh(corpus, snr_range=(-5.0, 20.0))
    for i in range(8):
        item = ds[i]
        speech = item["mixture"] - item["noise"]
        assert snr_db(speech, item["noise"]) == pytest.approx(item["snr_db"], abs=0.1)
        assert torch.allclose(speech, item["sources"][0], atol=1e-6)  # dry: the target is what was mixed
        assert -5.0 <= item["snr_db"] <= 20.0


def test_level_and_no_clipping(corpus: dict[str, Path]) -> None:
    quiet = _enh(corpus, level_range_db=(-30.0, -30.0))[0]
    assert quiet["level_db"] == pytest.approx(-30.0, abs=0.01)
    loud = _enh(corpus, level_range_db=(0.0, 0.0), snr_range=(-5.0, -5.0))  # would clip without the rescale
    for i in range(5):
        item = loud[i]
        assert max(float(item[k].abs().max()) for k in ("mixture", "sources", "noise")) <= 0.99 + 1e-6
        assert snr_db(item["mixture"] - item["noise"], item["noise"]) == pytest.approx(-5.0, abs=0.1)


def test_reverberant_target_keeps_early_reflections(corpus: dict[str, Path]) -> None:
    ds = _enh(corpus, rir_manifest=corpus["rir"], reverb_prob=1.0)
    item = ds[0]
    assert item["reverberant"] and item["info"]["rirs"][0].endswith(".wav")
    speech = item["mixture"] - item["noise"]
    assert not torch.allclose(speech, item["sources"][0], atol=1e-4)  # target is not the full reverb
    assert snr_db(speech, item["noise"]) == pytest.approx(item["snr_db"], abs=0.1)
    rir = torch.zeros(2000)
    rir[100], rir[1500] = 1.0, 0.5
    assert early_rir(rir, 16000).shape[0] == 100 + 800 + 1  # direct path + 50 ms
    full, early = reverberate(torch.ones(3000), rir, 16000)
    assert full.shape == early.shape == (3000,)
    assert float(full[-1]) == pytest.approx(1.5, abs=1e-4) and float(early[-1]) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ConfigError, match="rir_manifest"):
        _enh(corpus, reverb_prob=0.5)


def test_speaker_mixtures_use_different_speakers(corpus: dict[str, Path]) -> None:
    ds = SpeakerMixtureDataset(corpus["speech"], MixingOptions(segment_seconds=1.0, length=30, seed=1), n_src=3)
    for i in range(30):
        item = ds[i]
        assert item["sources"].shape == (3, item["mixture"].shape[0])
        assert len(set(item["info"]["speakers"])) == 3
        assert torch.allclose(item["sources"].sum(0), item["mixture"], atol=1e-5)
        assert math.isinf(item["snr_db"]) and not item["noise"].any()
    g = ds[0]["gains_db"]
    src_db = [10 * math.log10(float(s.pow(2).mean())) for s in ds[0]["sources"]]
    assert src_db[1] - src_db[0] == pytest.approx(float(g[1] - g[0]), abs=0.05)  # relative gains as sampled
    with pytest.raises(ManifestError, match="need at least n_src=6"):
        SpeakerMixtureDataset(corpus["speech"], n_src=6)


def test_noisy_speaker_mixture_and_collate(corpus: dict[str, Path]) -> None:
    options = MixingOptions(segment_seconds=0.5, length=4, snr_range=(5.0, 5.0))
    ds = SpeakerMixtureDataset(corpus["speech"], options, n_src=2, noise_manifest=corpus["noise"])
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["mixture"].shape == (2, 8000) and batch["sources"].shape == (2, 2, 8000)
    item = ds[1]
    assert snr_db(item["sources"].sum(0), item["noise"]) == pytest.approx(5.0, abs=0.1)


def test_split_filter(tmp_path: Path) -> None:
    manifest = speech_corpus(tmp_path, speakers=3)  # speakers 0, 1, 2 in train, dev, test
    noise = noise_corpus(tmp_path / "n", split="dev")
    ds = NoisySpeechDataset(manifest, noise, MixingOptions(split="dev", segment_seconds=0.5, length=5))
    assert {ds[i]["info"]["speakers"][0] for i in range(5)} == {"spk1"}
    with pytest.raises(ManifestError, match="split='test'"):
        NoisySpeechDataset(manifest, noise, MixingOptions(split="test"))


def test_a_list_of_noise_manifests_is_one_pool_of_their_union(tmp_path: Path) -> None:
    speech = speech_corpus(tmp_path / "s", speakers=3)  # one speaker each in train, dev, test
    first, second = noise_corpus(tmp_path / "n1", files=2), noise_corpus(tmp_path / "n2", files=3)
    ds = NoisySpeechDataset(speech, [first, str(second)], MixingOptions(segment_seconds=0.5, length=40, seed=1))
    assert len(ds.noise) == 5
    used = {Path(ds[i]["info"]["noise_file"]).parent.name for i in range(40)}
    assert used == {"n1", "n2"}  # both files' noises are drawn
    with pytest.raises(ManifestError, match=r"noise.jsonl \+ .*noise.jsonl: no entries with split='dev'"):
        NoisySpeechDataset(speech, [first, second], MixingOptions(split="dev"))


def test_short_speech_is_padded_and_short_noise_looped(tmp_path: Path) -> None:
    speech = [file_entry(write(tmp_path / "s.wav", tone(0.3)), "train", "speech", "a")]
    noise = [file_entry(write(tmp_path / "n.wav", tone(0.25, freq=900)), "train", "noise")]
    item = NoisySpeechDataset(speech, noise, MixingOptions(segment_seconds=1.0, length=1))[0]
    assert item["mixture"].shape == (16000,)
    assert (item["sources"][0] == 0).sum() >= 16000 - 4800 - 1  # 0.3 s of speech placed in 1 s
    assert (item["noise"].abs() > 0).float().mean() > 0.95  # noise covers the whole segment


def test_resampled_crops_match_whole_file_and_cache(tmp_path: Path) -> None:
    entry = file_entry(write(tmp_path / "x.wav", tone(2.0, sr=22050, seed=5), sr=22050), "train", "speech", "a")
    direct, cached = AudioPool([entry], 16000), AudioPool([entry], 16000, cache=True)
    whole = direct.load(0)
    assert abs(whole.shape[0] - 32000) <= 1 and direct.frames(0) == whole.shape[0]
    start = direct.aligned(0, 12345)
    assert start % 320 == 0 and 12345 - start < 320  # 22050 -> 16000 repeats every 320 output samples
    crop = direct.crop(0, 12345, 4000)
    assert torch.allclose(crop, whole[start : start + 4000], atol=1e-4)
    assert torch.allclose(cached.crop(0, 12345, 4000), crop, atol=1e-4)
    assert direct.crop(0, 31000, 4000)[-1000:].abs().max() == 0  # zero-padded past the end


def test_augmentation_is_reproducible(corpus: dict[str, Path]) -> None:
    aug = Augmentation(speed_factors=(0.9, 1.1), eq_prob=1.0)
    a = _enh(corpus, augment=aug, noise_augment=Augmentation(eq_prob=0.5))
    b = _enh(corpus, augment=aug, noise_augment=Augmentation(eq_prob=0.5))
    assert torch.equal(a[4]["mixture"], b[4]["mixture"]) and a[4]["info"]["speeds"][0] in (0.9, 1.1)
    assert not torch.equal(a[4]["sources"], _enh(corpus)[4]["sources"])
    x = torch.from_numpy(tone(1.0))
    assert speed_perturb(x, 16000, 1.25).shape[0] == 12800 and speed_perturb(x, 16000, 1.0) is x
    eq = aug.equalize(x, 16000, np.random.default_rng(0))
    assert eq.shape == x.shape and not torch.allclose(eq, x)


def test_partial_overlap_draws_the_overlapping_share(corpus: dict[str, Path]) -> None:
    n = 16000
    half = SpeakerMixtureDataset(
        corpus["speech"], MixingOptions(segment_seconds=1.0, length=12, seed=2), overlap_range=(0.5, 0.5)
    )
    lengths = set()
    for i in range(12):
        item = half[i]
        (a0, b0), (a1, b1) = (
            (round(s * 16000), round(e * 16000))
            for s, e in zip(item["info"]["active_starts"], item["info"]["active_stops"])
        )
        assert a0 == 0 and b1 == n and b0 - a1 == n // 2  # together they cover it, half of it both talk
        first, second = item["sources"]
        assert not first[b0:].any() and not second[:a1].any()  # silent outside their spans
        assert rms(first[:b0]) > 1e-3 and rms(second[a1:]) > 1e-3
        both_share = float(((first != 0) & (second != 0)).float().mean())
        assert both_share == pytest.approx(0.5, abs=0.01)
        lengths.add(b0)
        g = item["gains_db"]
        src_db = [20 * math.log10(rms(s[lo:hi])) for s, (lo, hi) in zip(item["sources"], ((a0, b0), (a1, b1)))]
        assert src_db[1] - src_db[0] == pytest.approx(float(g[1] - g[0]), abs=0.05)  # gains while talking
    assert len(lengths) > 3  # who talks longer varies
    ranged = SpeakerMixtureDataset(
        corpus["speech"], MixingOptions(segment_seconds=1.0, length=40, seed=2), overlap_range=(0.5, 1.0)
    )
    shares = [(ranged[i]["info"]["active_stops"][0] - ranged[i]["info"]["active_starts"][1]) for i in range(40)]
    assert min(shares) >= 0.5 - 1e-4 and max(shares) <= 1.0 + 1e-4 and max(shares) - min(shares) > 0.3
    full = SpeakerMixtureDataset(corpus["speech"], MixingOptions(segment_seconds=1.0, length=4, seed=2))[0]["sources"]
    assert (full[:, :800] != 0).any(-1).all() and (full[:, -800:] != 0).any(-1).all()  # default: full overlap
    with pytest.raises(ConfigError, match="overlap_range"):
        SpeakerMixtureDataset(corpus["speech"], n_src=3, overlap_range=(0.5, 1.0))


def test_filled_talkers_speak_throughout_their_spans(tmp_path: Path) -> None:
    speech = speech_corpus(tmp_path, speakers=3, utts=3, seconds=0.3, split="train")  # files of 0.3-0.8 s
    opts = MixingOptions(segment_seconds=3.0, length=12, seed=4)
    plain = SpeakerMixtureDataset(speech, opts, overlap_range=(1.0, 1.0))
    filled = SpeakerMixtureDataset(speech, opts, overlap_range=(1.0, 1.0), fill_speech=True, pause_seconds=(0.1, 0.1))

    def both_talk(item: dict) -> float:
        return float((item["sources"] != 0).all(0).float().mean())

    assert max(both_talk(plain[i]) for i in range(12)) < 0.3  # two short files in 3 s: little real overlap
    for i in range(12):
        item = filled[i]
        assert both_talk(item) > 0.6  # pauses of 0.1 s between pieces of 0.3-0.8 s
        for k, pieces in enumerate(item["info"]["pieces"]):
            files = pieces.split(" + ")
            assert len(files) >= 4 and {Path(f).parent.name for f in files} == {item["info"]["speakers"][k]}
        silent = (item["sources"][0] == 0).int()  # a pause is a run of 1600 zero samples
        runs = torch.diff(torch.cat([torch.tensor([0]), silent, torch.tensor([0])])).nonzero().flatten()
        lengths = (runs[1::2] - runs[0::2]).tolist()
        assert any(abs(n - 1600) <= 1 for n in lengths)
    assert torch.equal(
        filled[3]["mixture"],
        SpeakerMixtureDataset(speech, opts, overlap_range=(1.0, 1.0), fill_speech=True, pause_seconds=(0.1, 0.1))[3][
            "mixture"
        ],
    )
    with pytest.raises(ConfigError, match="pause_seconds"):
        SpeakerMixtureDataset(speech, opts, fill_speech=True, pause_seconds=(0.5, 0.1))


def test_speed_per_talker_keeps_one_voice_across_a_talkers_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sepkit.data.mixing as mixing

    speech = speech_corpus(tmp_path, speakers=3, utts=3, seconds=0.3, split="train")
    factors = (0.8, 0.9, 1.1, 1.25)
    opts = MixingOptions(segment_seconds=3.0, length=12, seed=4, augment=Augmentation(speed_factors=factors))
    used: list[float] = []
    real = mixing.speed_perturb
    monkeypatch.setattr(
        mixing, "speed_perturb", lambda wav, rate, factor: used.append(factor) or real(wav, rate, factor)
    )

    def per_talker(ds: SpeakerMixtureDataset, i: int) -> list[set[float]]:
        used.clear()
        counts = [len(p.split(" + ")) for p in ds[i]["info"]["pieces"]]
        assert len(used) == sum(counts)  # one speed factor per piece, in talker order
        return [set(used[: counts[0]]), set(used[counts[0] :])]

    kw = dict(overlap_range=(1.0, 1.0), fill_speech=True, pause_seconds=(0.1, 0.1))
    steady = SpeakerMixtureDataset(speech, opts, speed_per_talker=True, **kw)
    voices = [per_talker(steady, i) for i in range(12)]
    assert all(len(v) == 1 for talkers in voices for v in talkers)  # one factor for all of a talker's pieces
    assert len({f for talkers in voices for v in talkers for f in v}) >= 3  # drawn anew for each talker
    jumpy = SpeakerMixtureDataset(speech, opts, **kw)
    assert any(len(v) > 1 for i in range(12) for v in per_talker(jumpy, i))  # default: each piece its own
    with pytest.raises(ConfigError, match="speed_per_talker needs fill_speech"):
        SpeakerMixtureDataset(speech, opts, speed_per_talker=True)


def test_speaker_power_evens_out_talkers(tmp_path: Path) -> None:
    manifest = speech_corpus(tmp_path, speakers=4, utts=1, seconds=0.5, split="train")
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines + [lines[0]] * 15) + "\n")  # spk0 owns 16 of 19 entries
    opts = MixingOptions(segment_seconds=0.5, length=300, seed=6)

    def spk0_share(power: float) -> float:
        ds = SpeakerMixtureDataset(manifest, opts, n_src=1, speaker_power=power)
        return sum(ds[i]["info"]["speakers"][0] == "spk0" for i in range(300)) / 300

    assert spk0_share(1.0) == pytest.approx(16 / 19, abs=0.06)  # by utterances, the default
    assert spk0_share(0.0) == pytest.approx(1 / 4, abs=0.06)  # uniform over speakers
    assert spk0_share(0.5) == pytest.approx(4 / 7, abs=0.07)  # sqrt(16) against three sqrt(1)
    shares = SpeakerMixtureDataset(manifest, opts, speaker_power=0.5).speaker_shares  # the draws' own shares
    assert shares.tolist() == pytest.approx([4 / 7, 1 / 7, 1 / 7, 1 / 7])
    with pytest.raises(ConfigError, match="speaker_power"):
        SpeakerMixtureDataset(manifest, opts, speaker_power=1.5)


def test_noise_on_a_share_of_speaker_mixtures(corpus: dict[str, Path]) -> None:
    ds = SpeakerMixtureDataset(
        corpus["speech"],
        MixingOptions(segment_seconds=0.5, length=60, seed=5, snr_range=(10.0, 30.0)),
        noise_manifest=corpus["noise"],
        noise_prob=0.3,
    )
    noisy = 0
    for i in range(60):
        item = ds[i]
        if item["noise"].any():
            noisy += 1
            assert 10.0 <= item["snr_db"] <= 30.0
            assert snr_db(item["sources"].sum(0), item["noise"]) == pytest.approx(item["snr_db"], abs=0.1)
        else:
            assert math.isinf(item["snr_db"]) and item["info"]["noise_family"] == "none"
            assert torch.allclose(item["sources"].sum(0), item["mixture"], atol=1e-6)
    assert 8 <= noisy <= 30  # about 30 % of 60
    batch = next(iter(DataLoader(ds, batch_size=6)))  # items with and without noise collate together
    assert batch["mixture"].shape == (6, 8000)
    quiet = SpeakerMixtureDataset(
        corpus["speech"], MixingOptions(segment_seconds=0.5, length=10), noise_manifest=corpus["noise"], noise_prob=0.0
    )
    assert not any(quiet[i]["noise"].any() for i in range(10))


def test_speed_perturbation_of_each_speaker(corpus: dict[str, Path]) -> None:
    factors = (0.95, 0.975, 1.0, 1.025, 1.05)
    options = MixingOptions(segment_seconds=1.0, length=20, seed=7, augment=Augmentation(speed_factors=factors))
    ds = SpeakerMixtureDataset(corpus["speech"], options)
    speeds = [s for i in range(20) for s in ds[i]["info"]["speeds"]]
    assert set(speeds) <= set(factors) and len(set(speeds)) >= 4
    plain = SpeakerMixtureDataset(corpus["speech"], MixingOptions(segment_seconds=1.0, length=20, seed=7))
    changed = next(i for i in range(20) if ds[i]["info"]["speeds"][0] != 1.0)
    assert ds[changed]["info"]["speech_files"][0] == plain[changed]["info"]["speech_files"][0]
    assert not torch.allclose(ds[changed]["sources"][0], plain[changed]["sources"][0], atol=1e-3)


def test_a_config_section_gives_one_options_object_and_a_type_refuses_options_it_does_not_read(
    corpus: dict[str, Path],
) -> None:
    from sepkit.train.datasets import build_dataset

    section = {"type": "speaker_mixture", "speech_manifest": str(corpus["speech"]), "n_src": 2}
    ds = build_dataset({**section, "segment_seconds": 0.5, "length": 3, "snr_range": [0, 5]}, "data.train", 16000, 4)
    assert ds.options == MixingOptions(segment_seconds=0.5, length=3, snr_range=[0, 5], seed=4)
    with pytest.raises(ConfigError, match="unknown key 'noise_weights' for type speaker_mixture"):
        build_dataset({**section, "noise_weights": [1.0]}, "data.train", 16000, 4)
    with pytest.raises(TypeError, match="takes no option 'noise_weights'"):
        SpeakerMixtureDataset.make_options(noise_weights=[1.0])
    with pytest.raises(ValueError, match=r"does not read the option\(s\) noise_weights"):
        SpeakerMixtureDataset(corpus["speech"], MixingOptions(noise_weights=[1.0]))


def test_fft_convolve_is_the_linear_convolution_cut_to_the_input_length() -> None:
    gen = torch.Generator().manual_seed(0)
    wav, long_rir, short_rir = torch.randn(4001, generator=gen), torch.randn(1237, generator=gen), torch.randn(5)
    full, short = fft_convolve(wav, [long_rir, short_rir])
    direct = torch.nn.functional.conv1d(
        torch.nn.functional.pad(wav, (1236, 0))[None, None], long_rir.flip(0)[None, None]
    ).flatten()
    assert full.shape == short.shape == wav.shape
    assert torch.allclose(full, direct, atol=1e-3)  # no circular wrap into the leading samples
    assert torch.allclose(
        short[:5], torch.tensor([sum(wav[k - j] * short_rir[j] for j in range(k + 1)) for k in range(5)]), atol=1e-5
    )

"""Each training corruption has the property it claims (babble of others, noise colours, hum, channel effects),
in enhancement items and in separation items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data_fixtures import noise_corpus, noisy_speech_spec, speech_corpus
from sepkit.data.corruption import Corruption, mu_law_round_trip, narrowband, random_colouring, stationary_noise
from sepkit.data import mixing
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset, SpeakerMixtureDataset
from sepkit.errors import ConfigError
from sepkit.train.datasets import build_dataset

SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    return {"speech": speech_corpus(root / "speech", speakers=6, split="train"), "noise": noise_corpus(root / "noise")}


def _dataset(corpus: dict[str, Path], **corrupt) -> NoisySpeechDataset:
    options = MixingOptions(segment_seconds=1.0, length=12, seed=5, corrupt=Corruption(**corrupt))
    return NoisySpeechDataset(corpus["speech"], corpus["noise"], options)


def _band_power_db(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2  # windowed: edges leak no broadband energy
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return 10 * np.log10(spec[(freqs >= lo) & (freqs < hi)].mean())


@pytest.mark.parametrize("kind,slope_db_per_octave", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_coloured_noise_has_its_spectral_slope(kind: str, slope_db_per_octave: float) -> None:
    wave, got = stationary_noise(4 * SR, SR, np.random.default_rng(0), kind)
    assert got == kind and abs(float(wave.pow(2).mean()) - 1.0) < 1e-4
    x = wave.numpy()
    octave = _band_power_db(x, 1000, 2000) - _band_power_db(x, 500, 1000)
    assert octave == pytest.approx(slope_db_per_octave, abs=1.0)


def test_hum_is_mains_frequency_and_harmonics() -> None:
    wave, _ = stationary_noise(4 * SR, SR, np.random.default_rng(1), "hum")
    spec = np.abs(np.fft.rfft(wave.numpy())) ** 2
    freqs = np.fft.rfftfreq(wave.shape[0], 1 / SR)
    f0 = freqs[np.argmax(spec[freqs < 80])]
    assert min(abs(f0 - 50), abs(f0 - 60)) < 1.0
    harmonic_energy = sum(spec[np.abs(freqs - h * f0) < 2].sum() for h in range(1, 13))
    assert harmonic_energy / spec.sum() > 0.95


def test_colouring_is_a_stable_filter_that_changes_the_spectrum() -> None:
    impulse = torch.zeros(SR)
    impulse[0] = 1.0
    for seed in range(20):
        response = random_colouring(impulse, np.random.default_rng(seed))
        assert torch.isfinite(response).all() and response[-1000:].abs().max() < 1e-6  # decays: stable
    white = torch.from_numpy(np.random.default_rng(0).standard_normal(SR)).float()
    coloured = random_colouring(white, np.random.default_rng(3)).numpy()
    tilt = _band_power_db(coloured, 4000, 8000) - _band_power_db(coloured, 0, 1000)
    assert abs(tilt) > 1.0  # white noise is no longer flat


def test_narrowband_removes_everything_above_4_khz() -> None:
    white = torch.from_numpy(np.random.default_rng(0).standard_normal(2 * SR)).float()
    out = narrowband(white, SR, highpass=True).numpy()
    assert out.shape == (2 * SR,)
    assert _band_power_db(out, 4200, 8000) - _band_power_db(out, 1000, 3000) < -40
    assert _band_power_db(out, 20, 100) - _band_power_db(out, 1000, 3000) < -10  # the 300 Hz high-pass


def test_mu_law_leaves_at_most_256_levels() -> None:
    x = torch.linspace(-0.9, 0.9, 10000)
    y = mu_law_round_trip(x)
    assert len(torch.unique(y)) <= 256 and (y - x).abs().max() < 0.05


def test_babble_is_other_speakers_only(corpus: dict[str, Path]) -> None:
    ds = _dataset(corpus, babble_prob=1.0, babble_talkers=(3, 4))
    for i in range(6):
        item = ds[i]
        family, talkers = item["info"]["noise_file"].split(":")
        talkers = talkers.split(",")
        assert family == "babble" and 3 <= len(talkers) <= 4
        assert item["info"]["speakers"][0] not in talkers
        assert item["noise"].abs().max() > 0


def test_stationary_family_replaces_noise_files(corpus: dict[str, Path]) -> None:
    ds = _dataset(corpus, stationary_prob=1.0)
    kinds = {ds[i]["info"]["noise_file"] for i in range(12)}
    assert kinds <= {"white", "pink", "brown", "hum"} and len(kinds) >= 2


def test_channel_effects_touch_the_mixture_not_the_target(corpus: dict[str, Path]) -> None:
    clipped = _dataset(corpus, clip_prob=1.0, clip_range=(0.3, 0.3))[0]
    mix, target = clipped["mixture"], clipped["sources"][0]
    peak = float(mix.abs().max())
    assert int((mix.abs() >= peak - 1e-7).sum()) > 10  # flat tops
    assert clipped["info"]["effects"] == "clipped"
    assert not torch.allclose(mix, target + clipped["noise"], atol=1e-4)
    coded = _dataset(corpus, codec_prob=1.0)[1]
    assert len(torch.unique(coded["mixture"])) <= 256 and coded["info"]["effects"] == "mu-law"


def test_narrowband_items_have_narrowband_targets(corpus: dict[str, Path]) -> None:
    item = _dataset(corpus, narrowband_prob=1.0)[2]
    for x in (item["mixture"], item["sources"][0]):
        x = x.numpy()
        assert _band_power_db(x, 4300, 8000) - _band_power_db(x, 200, 3500) < -30
    assert torch.allclose(item["mixture"], item["sources"][0] + item["noise"], atol=1e-5)


def test_inactive_corruption_changes_no_item(corpus: dict[str, Path]) -> None:
    plain = NoisySpeechDataset(corpus["speech"], corpus["noise"], MixingOptions(segment_seconds=1.0, length=12, seed=5))
    off = _dataset(corpus)
    assert torch.equal(plain[3]["mixture"], off[3]["mixture"])


def test_config_builds_corruption_and_rejects_bad_values(corpus: dict[str, Path]) -> None:
    spec = noisy_speech_spec(corpus["speech"], corpus["noise"], babble_prob=0.5, babble_talkers=[3, 5])
    ds = build_dataset(spec, "data.train", SR, 0)
    assert ds.corrupt.babble_talkers == (3, 5)
    with pytest.raises(ConfigError, match="corrupt"):
        build_dataset(spec | {"corrupt": {"babble_prob": 0.8, "stationary_prob": 0.5}}, "data.train", SR, 0)
    with pytest.raises(ConfigError, match="corrupt"):
        build_dataset(spec | {"corrupt": {"bogus": 1}}, "data.train", SR, 0)


def test_noise_weights_share_draws_between_manifests_whatever_their_durations(
    tmp_path: Path, corpus: dict[str, Path]
) -> None:
    long_pool = noise_corpus(tmp_path / "long", files=3, seconds=9.0)
    short_pool = noise_corpus(tmp_path / "short", files=1, seconds=1.5)
    args = dict(segment_seconds=0.5, length=200, seed=1)

    def share_from_short(**kw) -> float:
        ds = NoisySpeechDataset(corpus["speech"], [long_pool, short_pool], MixingOptions(**args, **kw))
        return float(np.mean(["short" in ds[i]["info"]["noise_file"] for i in range(200)]))

    assert share_from_short() < 0.15  # by duration: 1.5 s of 28.5 s
    assert 0.4 < share_from_short(noise_weights=[0.5, 0.5]) < 0.6
    with pytest.raises(ConfigError, match="noise_weights"):
        NoisySpeechDataset(corpus["speech"], [long_pool, short_pool], MixingOptions(noise_weights=[1.0], **args))


def _mixtures(corpus: dict[str, Path], noise: bool = True, **corrupt) -> SpeakerMixtureDataset:
    options = MixingOptions(segment_seconds=1.0, length=8, seed=7, corrupt=Corruption(**corrupt))
    return SpeakerMixtureDataset(corpus["speech"], options, noise_manifest=corpus["noise"] if noise else None)


def test_separation_colours_each_talker_and_keeps_the_scene_linear(
    corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = mixing.random_colouring
    monkeypatch.setattr(mixing, "random_colouring", lambda wav, rng: calls.append(wav.shape) or real(wav, rng))
    item = _mixtures(corpus, noise=False, colour_prob=1.0)[0]
    assert len(calls) == 2  # one microphone per talker, drawn independently
    assert torch.allclose(item["mixture"], item["sources"].sum(0), atol=1e-5)  # the targets carry the colouring


def test_separation_narrowband_reaches_every_target(corpus: dict[str, Path]) -> None:
    item = _mixtures(corpus, narrowband_prob=1.0)[1]
    assert item["info"]["effects"] == "narrowband"
    for x in (item["mixture"], *item["sources"]):
        x = x.numpy()
        assert _band_power_db(x, 4300, 8000) - _band_power_db(x, 200, 3500) < -30
    assert torch.allclose(item["mixture"], item["sources"].sum(0) + item["noise"], atol=1e-5)


def test_separation_babble_leaves_out_both_talkers(corpus: dict[str, Path]) -> None:
    ds = _mixtures(corpus, babble_prob=1.0, babble_talkers=(2, 3))
    for i in range(4):
        item = ds[i]
        talkers = item["info"]["noise_file"].split(":")[1].split(",")
        assert not set(item["info"]["speakers"]) & set(talkers)


def test_separation_channel_effects_touch_the_mixture_only(corpus: dict[str, Path]) -> None:
    item = _mixtures(corpus, clip_prob=1.0, clip_range=(0.3, 0.3))[2]
    mix = item["mixture"]
    assert int((mix.abs() >= float(mix.abs().max()) - 1e-7).sum()) > 10 and item["info"]["effects"] == "clipped"
    assert not torch.allclose(mix, item["sources"].sum(0) + item["noise"], atol=1e-4)


def test_separation_without_corruption_is_unchanged(corpus: dict[str, Path]) -> None:
    options = MixingOptions(segment_seconds=1.0, length=8, seed=7)
    plain = SpeakerMixtureDataset(corpus["speech"], options, noise_manifest=corpus["noise"])
    assert torch.equal(plain[5]["mixture"], _mixtures(corpus)[5]["mixture"])

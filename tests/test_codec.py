"""Lossy codecs through PyAV or the ffmpeg program (``sepkit.audio.codec``, ``corrupt.codecs``): the output keeps the
input's length and alignment and carries the codec's loss with either backend, and a config that names a codec no
backend can provide fails in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data_fixtures import noise_corpus, noisy_speech_spec, speech_corpus
from sepkit.audio import codec
from sepkit.audio.codec import CODECS, CODERS, codec_round_trip
from sepkit.data.corruption import Corruption
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset
from sepkit.errors import ConfigError
from sepkit.train.datasets import build_dataset

SR = 16000
AVAILABLE = {b: b in codec.available_backends() for b in codec.BACKENDS}
BACKENDS = [pytest.param(b, marks=pytest.mark.skipif(not AVAILABLE[b], reason=f"no {b}")) for b in codec.BACKENDS]
needs_a_backend = pytest.mark.skipif(codec.codec_backend() is None, reason="neither PyAV nor the ffmpeg program")


def _voiced(seconds: float = 2.0) -> torch.Tensor:
    """A speech-like test signal: harmonics of a gliding pitch under a syllabic envelope, peak 0.5."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    return torch.from_numpy(0.5 * voiced / np.abs(voiced).max()).float()


def _si_sdr(est: torch.Tensor, ref: torch.Tensor) -> float:
    est, ref = est.double(), ref.double()
    scaled = (est @ ref) / (ref @ ref) * ref
    return float(10 * torch.log10(scaled.pow(2).sum() / (scaled - est).pow(2).sum()))


def _best_lag(a: np.ndarray, b: np.ndarray, reach: int) -> int:
    """The shift of ``a`` against ``b`` in [-reach, reach] with the highest correlation."""
    return max(range(-reach, reach + 1), key=lambda k: float(np.dot(np.roll(a, -k)[reach:-reach], b[reach:-reach])))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_round_trip_keeps_length_and_alignment_and_loses_something(name: str, backend: str) -> None:
    x = _voiced()
    y = codec_round_trip(x, SR, name, backend)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert _best_lag(y.numpy(), x.numpy(), 400) == 0  # the codec's own delay is gone
    assert 6.0 < _si_sdr(y, x) < 60.0  # the waveform kept, the coding loss there
    stereo = torch.stack([x, 0.5 * x])
    assert codec_round_trip(stereo, SR, name, backend).shape == stereo.shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_silence_and_short_clips_come_back_with_their_length(backend: str) -> None:
    silent = torch.zeros(SR // 2)
    out = codec_round_trip(silent, SR, "g722", backend)
    assert out.shape == silent.shape and float(out.abs().max()) < 1e-3
    short = _voiced(0.05)  # shorter than the alignment search
    assert codec_round_trip(short, SR, "opus", backend).shape == short.shape


@pytest.mark.skipif(not AVAILABLE["ffmpeg"], reason="no ffmpeg")
def test_mp3_is_delayed_before_alignment_and_not_after() -> None:
    """Through pipes MP3's encoder delay stays in the stream (so alignment is needed) and the round trip removes it.

    In memory PyAV's muxer can seek back to fill in the Info header that tells the decoder how many samples to skip (a
    pipe cannot), so there the delay is gone before alignment; the round-trip test shows lag 0 for both."""
    x = _voiced()
    raw = CODERS["ffmpeg"](x.double().numpy(), SR, CODECS["mp3"])[: len(x)]
    assert _best_lag(raw, x.numpy(), 1600) > 500
    assert _best_lag(codec_round_trip(x, SR, "mp3", "ffmpeg").numpy(), x.numpy(), 1600) == 0


@pytest.mark.skipif(not all(AVAILABLE.values()), reason="needs both PyAV and the ffmpeg program")
def test_pyav_is_preferred_and_codes_as_the_program_does() -> None:
    assert codec.codec_backend() == "av"  # in process: no two process starts per item
    x = _voiced()
    for name in sorted(CODECS):  # the same codec either way: close waveforms, not the same bits (library builds differ)
        assert _si_sdr(codec_round_trip(x, SR, name, "av"), codec_round_trip(x, SR, name, "ffmpeg")) > 10.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    return {"speech": speech_corpus(root / "speech", speakers=4, split="train"), "noise": noise_corpus(root / "noise")}


@needs_a_backend
def test_coded_items_say_which_codec_and_stay_aligned_with_the_target(corpus: dict[str, Path]) -> None:
    options = MixingOptions(
        segment_seconds=1.0, length=6, seed=5, corrupt=Corruption(codec_prob=1.0, codecs=("opus", "g722"))
    )
    coded = NoisySpeechDataset(corpus["speech"], corpus["noise"], options)
    seen = set()
    for i in range(6):
        item = coded[i]
        seen.add(item["info"]["effects"])
        uncoded = item["sources"][0] + item["noise"]  # the mixture before the channel: target plus noise
        assert item["mixture"].shape == uncoded.shape
        mixture, uncoded = item["mixture"].flatten(), uncoded.flatten()
        assert _best_lag(mixture.numpy(), uncoded.numpy(), 400) == 0  # aligned with the target
        assert 0.0 < _si_sdr(mixture, uncoded) < 60.0  # coded (noise-like bands lose most), not replaced
    assert seen == {"opus", "g722"}


def test_unknown_or_unavailable_codec_is_a_one_line_config_error(
    corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = noisy_speech_spec(corpus["speech"], corpus["noise"], codec_prob=0.1, codecs=["mu-law", "amr"])
    with pytest.raises(ConfigError, match="unknown codec 'amr'"):
        build_dataset(spec, "data.train", SR, 0)
    with pytest.raises(ConfigError, match="unknown codec 'amr'"):  # misspelt while switched off: still an error
        build_dataset(spec | {"corrupt": {"codec_prob": 0.0, "codecs": ["amr"]}}, "data.train", SR, 0)
    monkeypatch.setattr(codec, "codec_backend", lambda: None)
    with pytest.raises(ConfigError, match="needs PyAV .* or the ffmpeg program") as err:
        build_dataset(spec | {"corrupt": {"codec_prob": 0.1, "codecs": ["mp3"]}}, "data.train", SR, 0)
    assert "\n" not in str(err.value)
    ds = build_dataset(spec | {"corrupt": {"codec_prob": 0.1}}, "data.train", SR, 0)  # mu-law needs no backend
    assert ds.corrupt.codecs == ("mu-law",)

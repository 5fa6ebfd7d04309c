"""The attenuation limit: the input mixed back into an enhancer's output, aligned, in every path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn as nn

import sepkit
from sepkit.audio.io import read_audio
from sepkit.errors import SepkitError
from sepkit.inference.dry_mix import DryMix, dry_share
from sepkit.inference.limiter import FULL_SCALE
from sepkit.inference.stream import stream_blocks
from sepkit.models import register_model
from sepkit.pretrained import ModelConfig, export_model
from sepkit_fixtures import export_causal, run_cli, speechlike

pytestmark = pytest.mark.usefixtures("one_thread")


@register_model("test_silencer")
class Silencer(nn.Module):
    """A model that removes everything: what an ideal enhancer does to noise alone."""

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.unused = nn.Parameter(torch.zeros(1))  # export needs a weight

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(wav)[:, None]


def _export(out: Path, arch: str, module: nn.Module, task: str = "enhance", n_src: int = 1) -> Path:
    config = ModelConfig(
        arch=arch,
        args={},
        sample_rate=16000,
        task=task,
        n_src=n_src,
        name=out.name,
        inference={"chunk_seconds": 1.0, "overlap_seconds": 0.2},
    )
    return export_model(module, out, config, "---\ntraining_data: none (test fixture)\n---\n# fixture\n")


@pytest.fixture(scope="module")
def silencer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("models") / "silencer", "test_silencer", Silencer())


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_causal(tmp_path_factory.mktemp("models") / "filter", "filter_enhancer")


def noise(seconds: float, rate: int, channels: int = 1, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal((channels, int(seconds * rate)))).astype(np.float32)


def level_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def test_share_follows_the_limit_and_bad_limits_are_refused() -> None:
    assert dry_share(20.0) == pytest.approx(0.1)
    assert dry_share(6.0) == pytest.approx(0.5012, abs=1e-4)
    for bad in (0, -3.0, float("nan"), float("inf"), "loud", None):
        with pytest.raises(SepkitError, match="attenuation limit"):
            dry_share(bad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_queue_pairs_each_output_sample_with_its_input_sample(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((2, 5000)).astype(np.float32))
    y = torch.from_numpy(rng.standard_normal((1, 2, 5000)).astype(np.float32))
    dry, outs, pushed, mixed = DryMix(10.0), [], 0, 0
    while mixed < 5000:  # inputs run ahead of outputs by a varying amount, as an engine's delay makes them
        step = int(rng.integers(0, 700))
        dry.push(x[:, pushed : pushed + step])
        pushed = min(5000, pushed + step)
        take = int(rng.integers(0, pushed - mixed + 1))
        outs.append(dry.mix(y[..., mixed : mixed + take]))
        mixed += take
    a = 10 ** (-10 / 20)
    torch.testing.assert_close(torch.cat(outs, dim=-1), (1 - a) * y + a * x, rtol=0, atol=1e-6)
    with pytest.raises(RuntimeError, match="answer only"):
        dry.mix(y[..., :1])  # an output with no input left to answer


def test_a_model_that_removes_everything_lowers_noise_by_exactly_the_limit(silencer_dir: Path) -> None:
    x = noise(2.0, 44100, channels=2)  # chunked engine, resampled: the input's share comes back at its own rate
    out = sepkit.load(silencer_dir, device="cpu", attenuation_limit_db=12.0).enhance(x, 44100)
    np.testing.assert_allclose(out, dry_share(12.0) * x, rtol=0, atol=1e-6)
    assert level_db(out) - level_db(x) == pytest.approx(-12.0, abs=1e-3)
    assert np.abs(sepkit.load(silencer_dir, device="cpu").enhance(x, 44100)).max() == 0.0  # without it: silence


def test_streamed_output_is_the_mix_of_the_unlimited_output_and_the_input(causal_dir: Path) -> None:
    x = 0.25 * speechlike(1.5, 44100, seed=3, channels=2)  # resampled both ways around a frame-by-frame model
    plain = stream_blocks(sepkit.load(causal_dir, device="cpu").stream(44100, 2), x, 777)
    limited_model = sepkit.load(causal_dir, device="cpu", attenuation_limit_db=6.0)
    limited = stream_blocks(limited_model.stream(44100, 2), x, 331)
    a = dry_share(6.0)
    assert np.abs(plain - x).max() > 0.05  # the model changes its input, so the mix is not the input
    assert np.abs(plain).max() < 0.9  # and stays clear of full scale, where the limiter would step in
    np.testing.assert_allclose(limited, (1 - a) * plain + a * x, rtol=0, atol=1e-5)
    np.testing.assert_allclose(limited_model.enhance(x, 44100), limited, rtol=0, atol=1e-5)  # arrays: the same


def test_enhance_default_on_noise_alone_keeps_the_limit() -> None:
    x = noise(3.0, 16000, level=0.05, seed=4)
    free = level_db(sepkit.load(device="cpu").enhance(x, 16000)) - level_db(x)
    capped = level_db(sepkit.load(device="cpu", attenuation_limit_db=6.0).enhance(x, 16000)) - level_db(x)
    assert free < -30.0  # the model alone takes far more than 6 dB off white noise (46.0 when measured)
    assert -6.2 < capped < -5.8  # with the limit about 6 dB (5.99 when measured): the model's residue adds little


def test_mixed_output_stays_within_full_scale_and_the_cli_writes_it(
    causal_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    x = speechlike(1.0, 16000, seed=5)
    x = (x * (0.999 / np.abs(x).max())).astype(np.float32)
    src, dst = tmp_path / "loud.wav", tmp_path / "out.wav"
    sf.write(src, x.T, 16000, subtype="FLOAT")  # float output too: nothing on the way would clip it
    code, _, err = run_cli(capsys, "enhance", src, "-o", dst, "--model", causal_dir, "--attenuation-limit", "3")
    assert code == 0, err
    out = read_audio(dst)[0]
    assert np.abs(out).max() <= FULL_SCALE
    api = sepkit.load(causal_dir, device="cpu", attenuation_limit_db=3.0).enhance(x, 16000)
    np.testing.assert_allclose(out, api, rtol=0, atol=1e-6)


@pytest.mark.parametrize("value", ["0", "-6", "nan"])
def test_cli_refuses_a_bad_limit_in_one_line(
    causal_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, speechlike(0.5, 16000).T, 16000)
    code, _, err = run_cli(capsys, "enhance", src, "--model", causal_dir, f"--attenuation-limit={value}")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "attenuation limit must be a positive number" in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


@register_model("test_pair")
class Pair(Silencer):
    """A two-output model: each output its input."""

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.stack([wav, wav], dim=1)


def test_separators_refuse_an_attenuation_limit(tmp_path: Path) -> None:
    sep = _export(tmp_path / "pair", "test_pair", Pair(), task="separate", n_src=2)
    with pytest.raises(SepkitError, match="attenuation limit is for enhancers"):
        sepkit.load(sep, device="cpu", attenuation_limit_db=6.0)

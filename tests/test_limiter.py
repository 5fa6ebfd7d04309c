"""Output level: no output above full scale (a smooth limiter, not clipping), quiet inputs keep their level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn as nn
from scipy.ndimage import maximum_filter1d

import sepkit
from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample
from sepkit.cli.main import main
from sepkit.inference.limiter import FULL_SCALE, HOLD_SECONDS, LOOKAHEAD_SECONDS, PeakLimiter
from sepkit.models import register_model
from sepkit.pretrained import ModelConfig, export_model

pytestmark = pytest.mark.usefixtures("one_thread")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "noisy.wav"  # real noisy speech, 44.1 kHz


@register_model("test_doubler")
class Doubler(nn.Module):
    """A model that amplifies: twice its input."""

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.unused = nn.Parameter(torch.zeros(1))  # export needs a weight

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return 2.0 * wav[:, None]


@pytest.fixture(scope="module")
def doubler_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "doubler"
    config = ModelConfig(
        arch="test_doubler",
        args={},
        sample_rate=16000,
        task="enhance",
        n_src=1,
        name="doubler",
        inference={"chunk_seconds": 1.0, "overlap_seconds": 0.2},
    )
    return export_model(Doubler(), out, config, "---\ntraining_data: none (test fixture)\n---\n# doubler\n")


def peaking_at(peak: float, seconds: float = 3.0, rate: int = 16000, channels: int = 2) -> np.ndarray:
    """Real speech (the example's live channel; played backwards in a second channel), scaled to ``peak``."""
    audio, orig = read_audio(EXAMPLE)
    live = resample(torch.from_numpy(audio[np.argmax(np.abs(audio).max(axis=1))]), orig, rate).numpy()
    x = np.stack([live, live[::-1]])[:channels, : int(seconds * rate)]
    return (x * (peak / np.abs(x).max())).astype(np.float32)


def below_full_scale_nearby(model_out: np.ndarray, rate: int) -> np.ndarray:
    """Samples whose neighbourhood, as far as the limiter looks ahead and holds, stays below full scale."""
    reach = 2 * round((HOLD_SECONDS + 2 * LOOKAHEAD_SECONDS) * rate) + 1
    return maximum_filter1d(np.abs(model_out).max(axis=0), size=reach) < FULL_SCALE


def check_limited(out: np.ndarray, model_out: np.ndarray, rate: int, atol: float = 1e-6) -> None:
    """Within full scale everywhere; the model's own output wherever that stays below full scale; no clipping."""
    assert out.shape == model_out.shape
    assert np.abs(model_out).max() > 1.5  # the model really went over
    assert np.abs(out).max() <= 1.0
    quiet = below_full_scale_nearby(model_out, rate)
    assert quiet.mean() > 0.5  # most of the signal: speech peaks are short
    np.testing.assert_allclose(out[:, quiet], model_out[:, quiet], rtol=0, atol=atol)
    # a gain that ramps, not a clip: the ratio to the model's output moves little from one sample to the next
    ratio = np.where(np.abs(model_out) > 0.05, out / np.where(model_out == 0, 1, model_out), np.nan)
    assert np.nanmin(ratio) < 0.9
    assert np.nanmax(np.abs(np.diff(ratio, axis=-1))) < 0.05  # between neighbours where both are defined


def test_api_output_of_an_amplifying_model_stays_within_full_scale(doubler_dir: Path) -> None:
    model = sepkit.load(doubler_dir, device="cpu")
    x = peaking_at(0.9)
    check_limited(model.enhance(x, 16000), 2.0 * x, 16000)


def test_limiting_happens_at_the_input_rate(doubler_dir: Path) -> None:
    model = sepkit.load(doubler_dir, device="cpu")
    x = peaking_at(0.9, rate=44100, channels=1)
    out = model.enhance(x, 44100)
    model_out = 2.0 * resample(resample(torch.from_numpy(x), 44100, 16000), 16000, 44100)[..., : x.shape[-1]].numpy()
    check_limited(out, model_out, 44100, atol=1e-4)  # the engine resamples as a stream, equal to rounding


def test_files_and_cli_outputs_stay_within_full_scale(doubler_dir: Path, tmp_path: Path) -> None:
    x = peaking_at(0.9)
    src = tmp_path / "in.wav"
    sf.write(src, x.T, 16000, subtype="FLOAT")  # float output too: nothing would clip it on the way
    model = sepkit.load(doubler_dir, device="cpu")
    check_limited(read_audio(model.enhance_file(src, tmp_path / "api.wav"))[0], 2.0 * x, 16000)
    assert main(["enhance", str(src), "-o", str(tmp_path / "cli.wav"), "--model", str(doubler_dir)]) == 0
    out, rate = read_audio(tmp_path / "cli.wav")
    assert sf.info(str(tmp_path / "cli.wav")).subtype == "FLOAT"
    check_limited(out, 2.0 * x, rate)


def test_outputs_below_full_scale_pass_unchanged(doubler_dir: Path) -> None:
    model = sepkit.load(doubler_dir, device="cpu")
    x = peaking_at(0.49)  # doubled: 0.98, just below full scale
    np.testing.assert_allclose(model.enhance(x, 16000), 2.0 * x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("blocks", [[48000], [1, 7, 80, 1000, 46912], [5000] * 9 + [3000]])
def test_limiter_streams_in_any_blocks_with_the_same_result(blocks: list[int]) -> None:
    """State carried from block to block: the stream equals one block, sample for sample and aligned."""
    x = torch.from_numpy(2.0 * peaking_at(0.9)).reshape(1, 2, -1)
    whole = PeakLimiter(16000)
    ref = torch.cat([whole.push(x), whole.flush()], dim=-1)
    limiter, parts, start = PeakLimiter(16000), [], 0
    for n in blocks:
        parts.append(limiter.push(x[..., start : start + n]))
        start += n
    parts.append(limiter.flush())
    out = torch.cat(parts, dim=-1)
    assert out.shape == x.shape and ref.shape == x.shape
    assert torch.equal(out, ref)
    assert out.abs().max() <= FULL_SCALE


def test_limiter_links_channels_and_not_outputs() -> None:
    """One gain for the channels of an output (the stereo image stays), none for an output that needs none."""
    t = torch.arange(16000) / 16000
    loud = 1.6 * torch.sin(2 * torch.pi * 200 * t)
    x = torch.stack([torch.stack([loud, 0.3 * loud]), torch.stack([0.3 * loud, 0.3 * loud])])  # (K=2, C=2, T)
    limiter = PeakLimiter(16000)
    out = torch.cat([limiter.push(x), limiter.flush()], dim=-1)
    assert out.abs().max() <= FULL_SCALE
    mid = slice(2000, 14000)
    torch.testing.assert_close(out[0, 1, mid], 0.3 * out[0, 0, mid])
    assert torch.equal(out[1], x[1])


def test_quiet_input_keeps_its_level_through_enhance_default() -> None:
    """Nothing on the way normalises: at -40 dBFS the output is the model's own, 20 dB below its output at -20."""
    audio, rate = read_audio(EXAMPLE)
    speech = resample(torch.from_numpy(audio[np.argmax(np.abs(audio).max(axis=1))]), rate, 16000)[: 3 * 16000]

    def level(v: np.ndarray | torch.Tensor) -> float:
        return float(10 * np.log10(np.mean(np.square(np.asarray(v, dtype=np.float64)))))

    model = sepkit.load("enhance-default", device="cpu")
    at = {db: (speech * 10 ** ((db - level(speech)) / 20)).numpy() for db in (-20, -40)}
    out = {db: model.enhance(x, 16000) for db, x in at.items()}
    with torch.no_grad():
        own = model.net(torch.from_numpy(at[-40])[None])[0, 0].numpy()
    assert abs(level(out[-40]) - level(own)) < 0.1
    assert abs(level(out[-40]) - (level(out[-20]) - 20.0)) < 1.0
    assert level(out[-40]) > -43.0


@pytest.mark.parametrize("blocks", [[48000], [1, 7, 80, 1000, 46912]])
def test_limiter_without_look_ahead_holds_full_scale_at_once_and_ramps_back(blocks: list[int]) -> None:
    """No delay; nothing over full scale; the gain falls at a peak's first sample, holds, then ramps up in 5 ms."""
    model_out = 2.0 * peaking_at(0.9)
    x = torch.from_numpy(model_out).reshape(1, 2, -1)
    limiter, parts, start = PeakLimiter(16000, lookahead_seconds=0), [], 0
    for n in blocks:
        parts.append(limiter.push(x[..., start : start + n]))
        assert parts[-1].shape[-1] == n  # every sample comes back at once
        start += n
    assert limiter.flush().shape[-1] == 0
    out = torch.cat(parts, dim=-1)[0].numpy()
    assert np.abs(out).max() <= 1.0
    gain = np.where(np.abs(model_out) > 0.05, out / np.where(model_out == 0, 1, model_out), np.nan).min(axis=0)
    over = np.abs(model_out).max(axis=0) >= FULL_SCALE
    assert np.nanmax(gain[: np.argmax(over)]) == pytest.approx(1.0)  # untouched before the first peak
    assert np.nanmin(gain) < 0.9
    rises = np.diff(gain)
    assert np.nanmax(rises) <= 1.0 / 80 + 1e-6  # 5 ms at 16 kHz from 0 to 1: the release ramp, never a jump up
    quiet = below_full_scale_nearby(model_out, 16000)
    np.testing.assert_allclose(out[:, quiet], model_out[:, quiet], rtol=0, atol=1e-6)


def test_cli_low_latency_only_with_standard_input_or_output(tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, peaking_at(0.5, channels=1)[0], 16000)
    assert main(["enhance", str(src), "-o", str(tmp_path / "out.wav"), "--low-latency"]) == 2

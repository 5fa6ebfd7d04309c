"""The stream API: any block size gives the offline result, output i answers input i, flat memory, stated latency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sepkit
from sepkit.errors import AudioError, ModelError, SepkitError
from sepkit.inference import process_array
from sepkit.inference.stream import stream_blocks
from sepkit.metrics import si_sdr
from sepkit_fixtures import CAUSAL, export_causal, speechlike

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=sorted(CAUSAL))
def causal_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_causal(tmp_path_factory.mktemp("models") / request.param, request.param)


def db(ref: np.ndarray, est: np.ndarray) -> float:
    """The worst channel's SI-SDR of ``est`` against ``ref``."""
    return float(np.min(si_sdr(est, ref)))


@pytest.mark.parametrize("rate", [16000, 44100])
def test_any_block_size_gives_the_offline_result(causal_dir: Path, rate: int) -> None:
    model = sepkit.load(causal_dir, device="cpu")
    x = speechlike(1.0, rate, seed=1, channels=2)
    offline = model.enhance(x, rate)
    for block_ms in (10, 37, 1000):
        out = stream_blocks(model.stream(rate, channels=2), x, int(rate * block_ms / 1000))
        assert out.shape == x.shape
        assert db(offline, out) >= 40.0, block_ms
    if rate != 16000:
        return
    short = x[:, : rate // 5]  # one sample at a time is slow in Python: a fifth of a second
    out = stream_blocks(model.stream(rate, channels=2), short, 1)
    assert out.shape == short.shape
    assert db(model.enhance(short, rate), out) >= 40.0


def test_offline_equals_the_network_on_the_whole_signal_beyond_the_chunk_length(causal_dir: Path) -> None:
    model = sepkit.load(causal_dir, device="cpu", chunk_seconds=0.5, overlap_seconds=0.1)
    x = 0.3 * speechlike(3.0, 16000, seed=2)[0]
    with torch.no_grad():
        whole = model.net(torch.from_numpy(x)[None])[0, 0].numpy()
    assert np.abs(whole).max() < 0.9  # the engine's limiter leaves it as the network made it
    out = model.enhance(x, 16000)
    assert out.shape == x.shape and db(whole, out) >= 40.0  # no chunk seams: one stateful run
    chunked = process_array(torch.from_numpy(x)[None], 16000, model._model_fn, 16000, model.settings)[0, 0].numpy()
    assert db(whole, chunked) < 40.0  # which 0.5 s chunks, each starting afresh, would not give


def test_one_dimensional_blocks_and_integer_samples(causal_dir: Path) -> None:
    model = sepkit.load(causal_dir, device="cpu")
    x = (speechlike(0.5, 16000, seed=3)[0] * 32767).astype(np.int16)
    stream = model.stream(16000)
    parts = [stream.process(x[i : i + 300]) for i in range(0, x.size, 300)] + [stream.flush()]
    assert all(p.ndim == 1 and p.dtype == np.float32 for p in parts)
    out = np.concatenate(parts)
    assert db(model.enhance(x.astype(np.float32) / 32768, 16000), out) >= 40.0
    with pytest.raises(SepkitError, match="already flushed"):
        stream.process(x[:10])


def test_output_sample_i_answers_input_sample_i_within_the_stated_latency(causal_dir: Path) -> None:
    model = sepkit.load(causal_dir, device="cpu")
    for rate in (16000, 48000):
        stream = model.stream(rate)
        n = rate // 10
        ready_at: list[int] = []  # input samples received when each output sample came out
        for i in range(n):
            got = stream.process(np.zeros(1, np.float32) + 0.01 * np.sin(i))
            ready_at += [i + 1] * got.size
        ready_at += [n] * stream.flush().size
        assert len(ready_at) == n
        waited_ms = 1000 * max(r - 1 - j for j, r in enumerate(ready_at[: n - rate // 20])) / rate
        assert stream.latency_ms - 1.0 <= waited_ms <= stream.latency_ms
    window_ms = 1000 * (model.net.n_fft + getattr(model.net, "lookahead_frames", 0) * model.net.hop) / 16000
    assert model.stream(16000).latency_ms == pytest.approx(window_ms + 5.0)  # the window (and the model's
    live = model.stream(16000, limiter_lookahead_ms=0)  # look-ahead frames), the limiter's look-ahead
    assert live.latency_ms == pytest.approx(window_ms)  # no limiter look-ahead: the model's alone
    ready_at = []
    for i in range(1600):
        ready_at += [i + 1] * live.process(np.full(1, 0.01 * np.sin(i), np.float32)).size
    assert 1000 * max(r - 1 - j for j, r in enumerate(ready_at)) / 16000 <= live.latency_ms


def test_a_long_stream_in_10ms_blocks_holds_flat_memory(tmp_path: Path) -> None:
    model = sepkit.load(export_causal(tmp_path / "tiny", "filter_enhancer", hidden=8, layers=1), device="cpu")
    stream = model.stream(48000, channels=1)
    block = 480
    rng = np.random.default_rng(0)

    def held() -> int:  # samples waiting in every stage: input framing, overlap-add, both resamplers, limiter
        core, limiter = stream._core, stream._limiter
        stages = [core._inp, core._acc, stream._to_model._buf, stream._from_model._buf, limiter._pending]
        return sum(t.shape[-1] for t in stages if t is not None)

    sizes = []
    for _ in range(3000):  # half a minute
        stream.process((0.1 * rng.standard_normal(block)).astype(np.float32))
        sizes.append(held())
    assert max(sizes[1500:]) <= max(sizes[:1500]) <= 48000 // 10  # never more than 0.1 s, not growing
    assert stream._core._state.mean.frames <= 3000  # the running mean's count stops once it no longer matters


def test_non_causal_models_refuse_to_stream_in_one_line(sep_model_dir: Path, enh_model_dir: Path) -> None:
    for folder in (sep_model_dir, enh_model_dir):
        with pytest.raises(ModelError, match="not causal") as info:
            sepkit.load(folder, device="cpu").stream(16000)
        assert "\n" not in str(info.value)


def test_bad_blocks_are_refused(causal_dir: Path) -> None:
    stream = sepkit.load(causal_dir, device="cpu").stream(16000, channels=2)
    with pytest.raises(AudioError, match=r"\(2, T\)"):
        stream.process(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match="NaN"):
        stream.process(np.full((2, 10), np.nan, np.float32))
    with pytest.raises(AudioError, match="positive"):
        sepkit.load(causal_dir, device="cpu").stream(0)

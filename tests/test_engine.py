"""Inference engine: chunked equals one-shot, streaming resampling equals one-shot, flat memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sepkit.audio.resample import StreamResampler, resample, resampled_length
from sepkit.inference import (
    InferenceSettings,
    StreamingOverlapAdd,
    chunk_starts,
    chunk_window,
    guard_samples,
    model_runner,
    process_array,
    process_stream,
)
from sepkit_fixtures import ConvTestModel


def below_full_scale(*shape: int) -> torch.Tensor:
    """Noise whose model outputs stay below full scale, so the engine's limiter leaves them as the model made them."""
    return 0.2 * torch.randn(*shape)


def one_shot(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).permute(1, 0, 2)  # (K, C, T)


@pytest.mark.parametrize("length", [1024, 8000, 8001, 16000, 40321])
@pytest.mark.parametrize("n_src", [1, 2])
def test_chunked_equals_one_shot(length: int, n_src: int) -> None:
    net = ConvTestModel(n_src=n_src, kernel=65).eval()
    settings = InferenceSettings(chunk_seconds=0.25, overlap_seconds=0.05, batch_size=3)
    assert net.receptive_field <= guard_samples(int(0.05 * 16000))
    x = below_full_scale(2, length)
    out = process_array(x, 16000, model_runner(net, torch.device("cpu")), 16000, settings)
    assert out.shape == (n_src, 2, length)
    assert (out - one_shot(net, x)).abs().max() < 1e-4


def test_chunked_differs_when_receptive_field_exceeds_guard() -> None:
    """The guard is what makes chunking exact: a model with a wider context does see the seams."""
    net = ConvTestModel(kernel=401).eval()
    settings = InferenceSettings(chunk_seconds=0.1, overlap_seconds=0.02, batch_size=2)
    x = torch.randn(1, 8000)
    out = process_array(x, 16000, model_runner(net, torch.device("cpu")), 16000, settings)
    assert (out - one_shot(net, x)).abs().max() > 1e-4


@pytest.mark.parametrize("orig,new", [(44100, 16000), (16000, 44100), (8000, 16000), (22050, 16000), (48000, 16000)])
def test_stream_resampler_matches_one_shot(orig: int, new: int) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 50001, generator=gen)
    stream = StreamResampler(orig, new)
    parts, i = [], 0
    while i < x.shape[-1]:
        k = int(torch.randint(1, 7000, (1,), generator=gen))
        parts.append(stream.push(x[:, i : i + k]))
        i += k
    parts.append(stream.flush())
    y = torch.cat(parts, dim=-1)
    ref = resample(x, orig, new)
    assert y.shape == ref.shape == (2, resampled_length(50001, orig, new))
    assert (y - ref).abs().max() < 1e-4


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_engine_keeps_input_rate_and_length(rate: int) -> None:
    net = ConvTestModel(kernel=9).eval()
    x = below_full_scale(1, int(rate * 0.7) + 3)
    out = process_array(
        x,
        rate,
        model_runner(net, torch.device("cpu")),
        16000,
        InferenceSettings(chunk_seconds=0.2, overlap_seconds=0.05),
    )
    assert out.shape == (1, 1, x.shape[-1])
    # equals: resample -> model in one shot -> resample back
    ref = resample(one_shot(net, resample(x, rate, 16000)), 16000, rate)[..., : x.shape[-1]]
    assert (out - ref).abs().max() < 1e-4


def test_resampling_round_trip_preserves_band_limited_signal() -> None:
    t = torch.arange(44100) / 44100
    x = (0.5 * torch.sin(2 * torch.pi * 440 * t) + 0.3 * torch.sin(2 * torch.pi * 3000 * t))[None]
    back = resample(resample(x, 44100, 16000), 16000, 44100)
    inner = slice(2000, -2000)
    assert (back[..., inner] - x[..., inner]).abs().max() < 1e-2


def test_windows_cover_every_sample() -> None:
    total, chunk, overlap = 10007, 1000, 300
    starts = chunk_starts(total, chunk, overlap)
    den = torch.zeros(total)
    for i, s in enumerate(starts):
        den[s : s + chunk] += chunk_window(chunk, overlap, first=i == 0, last=i == len(starts) - 1)
    assert starts[-1] + chunk == total
    assert den.min() > 0.5


def test_streaming_memory_is_bounded() -> None:
    """Buffers never hold more than a few chunks, however long the stream."""
    net = ConvTestModel(kernel=9).eval()
    ola = StreamingOverlapAdd(
        model_runner(net, torch.device("cpu")), total=16000 * 60, chunk=16000, overlap=1600, batch_size=2
    )
    peak = 0
    for _ in range(60):
        ola.push(torch.randn(1, 16000))
        held = (ola._inp.shape[-1] if ola._inp is not None else 0) + (ola._num.shape[-1] if ola._num is not None else 0)
        peak = max(peak, held)
    ola.flush()
    assert peak <= 16000 * 6


def test_process_stream_reports_progress() -> None:
    net = ConvTestModel(kernel=9).eval()
    seen: list[int] = []
    x = np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32)
    blocks = [x[:, i : i + 4000] for i in range(0, 16000, 4000)]
    out = list(
        process_stream(
            blocks,
            16000,
            16000,
            model_runner(net, torch.device("cpu")),
            16000,
            InferenceSettings(chunk_seconds=0.3, overlap_seconds=0.05),
            seen.append,
        )
    )
    assert seen == [4000, 8000, 12000, 16000]
    assert sum(o.shape[-1] for o in out) == 16000


class ShufflingSeparator(torch.nn.Module):
    """A separator whose outputs come in a random order on every chunk, as a real one's may."""

    def __init__(self, n_src: int) -> None:
        super().__init__()
        torch.manual_seed(n_src)
        self.net = torch.nn.Conv1d(1, n_src, 33, padding=16).eval()  # K different filters: K distinct outputs
        self.gen = torch.Generator().manual_seed(1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        est = self.net(wav[:, None])
        order = torch.stack([torch.randperm(est.shape[1], generator=self.gen) for _ in range(est.shape[0])])
        return torch.gather(est, 1, order[..., None].expand_as(est))


@pytest.mark.parametrize("n_src", [2, 3, 5])
def test_separated_outputs_keep_one_order_across_chunks(n_src: int) -> None:
    """Chunk outputs that arrive shuffled are re-ordered to agree in the overlaps: the whole file has one order."""
    x = below_full_scale(2, 16000)
    shuffled = ShufflingSeparator(n_src)
    settings = InferenceSettings(chunk_seconds=0.1, overlap_seconds=0.03, batch_size=3)
    out = process_array(x, 16000, model_runner(shuffled, torch.device("cpu")), 16000, settings)
    with torch.no_grad():
        ref = shuffled.net(x[:, None]).permute(1, 0, 2)  # (K, C, T) in the model's own order
    for c in range(x.shape[0]):  # each channel goes through the model apart, so each has an order of its own
        first = [int((out[:, c, :400] - ref[k, c, :400]).abs().amax(-1).argmin()) for k in range(n_src)]
        assert sorted(first) == list(range(n_src))
        assert (out[first, c] - ref[:, c]).abs().max() < 1e-4


class StridedSeparator(torch.nn.Module):
    """A learned-filterbank separator (window 16, hop 8, no padding): it cannot run on fewer than 16 samples."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = torch.nn.Conv1d(1, 8, 16, stride=8)
        self.dec = torch.nn.ConvTranspose1d(8, 2, 16, stride=8)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.dec(torch.relu(self.enc(wav[:, None])))


@pytest.mark.parametrize("length", [1, 5, 15, 100])
def test_inputs_shorter_than_the_model_window_still_give_outputs(length: int) -> None:
    net = StridedSeparator().eval()
    with pytest.raises(RuntimeError):
        net(torch.randn(1, 5))
    out = process_array(
        torch.randn(1, length), 16000, model_runner(net, torch.device("cpu")), 16000, InferenceSettings()
    )
    assert out.shape == (2, 1, length) and torch.isfinite(out).all()

"""The shared STFT front end (sepkit.audio.stft): its conventions are torch's, the round trip is exact, and
windows are never saved (so model files keep their keys)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from sepkit.audio.stft import WINDOWS, add_window, istft, magnitude, power_spectrum, stft, stft_window
from sepkit.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_windows_are_the_periodic_ones() -> None:
    h = 0.5
    assert torch.allclose(stft_window(4, "hann"), torch.tensor([0.0, h, 1.0, h]))
    assert torch.allclose(stft_window(4, "sqrt_hann"), torch.tensor([0.0, math.sqrt(h), 1.0, math.sqrt(h)]))
    for kind, maker in (("hamming", torch.hamming_window), ("blackman", torch.blackman_window)):
        assert torch.equal(stft_window(64, kind), maker(64))
    assert stft_window(8, "hann", dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="unknown window 'kaiser'"):
        stft_window(8, "kaiser")  # type: ignore[arg-type]
    assert set(WINDOWS) == {"hann", "sqrt_hann", "hamming", "blackman"}


def test_a_window_is_a_buffer_that_is_not_saved() -> None:
    module = nn.Module()
    add_window(module, 16, "sqrt_hann")
    add_window(module, 32, name="hann")
    assert torch.equal(module.window, torch.hann_window(16).sqrt()) and module.hann.shape == (32,)
    assert dict(module.state_dict()) == {}
    assert module.to(torch.float64).window.dtype == torch.float64  # follows the module


@pytest.mark.parametrize(
    "kind, n_fft, hop", [("sqrt_hann", 320, 160), ("sqrt_hann", 512, 128), ("hann", 512, 128), ("hann", 1024, 256)]
)
@pytest.mark.parametrize("length", [16000, 16001, 12345])
def test_round_trip_gives_the_signal_back(kind: str, n_fft: int, hop: int, length: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, length)
    window = stft_window(n_fft, kind)
    spec = stft(x, n_fft, hop, window)
    assert spec.shape == (2, 3, n_fft // 2 + 1, 1 + length // hop) and spec.is_complex()
    y = istft(spec, n_fft, hop, window, length)
    assert y.shape == x.shape
    assert (y - x).abs().max() < 1e-6


@pytest.mark.parametrize("center, pad_mode", [(True, "constant"), (True, "reflect"), (False, "constant")])
def test_same_numbers_as_torch(center: bool, pad_mode: str) -> None:
    torch.manual_seed(1)
    x, window = torch.randn(3, 4000), stft_window(256, "hann")
    ours = stft(x, 256, 64, window, center=center, pad_mode=pad_mode)  # type: ignore[arg-type]
    theirs = torch.stft(x, 256, 64, window=window, center=center, pad_mode=pad_mode, return_complex=True)
    assert torch.equal(ours, theirs)
    assert torch.equal(stft(x[0], 256, 64, window, center=center, pad_mode=pad_mode), theirs[0])  # type: ignore[arg-type]
    if center:
        back = torch.istft(theirs, 256, 64, window=window, center=True, length=4000)
        assert torch.equal(istft(theirs, 256, 64, window, 4000), back)
    assert torch.equal(power_spectrum(ours), ours.real.square() + ours.imag.square())
    assert torch.equal(power_spectrum(ours, 1e-8), ours.real.square() + ours.imag.square() + 1e-8)


def test_padding_modes_differ_at_the_edges_only() -> None:
    x, window = torch.randn(1, 2000), stft_window(256)
    zero, mirror = stft(x, 256, 64, window), stft(x, 256, 64, window, pad_mode="reflect")
    assert not torch.allclose(zero[..., 0], mirror[..., 0])
    assert torch.equal(zero[..., 2:-2], mirror[..., 2:-2])  # frames 2.. stay inside the signal


@pytest.mark.parametrize(
    "arch, args",
    [
        ("fast_enhancer", {}),
        ("filter_enhancer", {}),
        ("stft_separator", {}),
        ("cae_mae", {}),
        ("enhancer_snr", {}),
        ("snr_estimator", {}),
    ],
)
def test_models_on_the_front_end_save_no_window(arch: str, args: dict) -> None:
    net = build_model(arch, **args)
    assert isinstance(net.window, torch.Tensor)
    assert not [k for k in net.state_dict() if "window" in k]  # strict loading of shipped files: test_shipped_models


def test_magnitude_is_the_floored_modulus_with_a_finite_gradient_at_denormal_and_zero_bins() -> None:
    values = [complex(3.0, 4.0), complex(1e-3, 0.0), complex(4.2e-44, 1.4e-45), complex(-3.6e-44, 9.8e-45), 0j]
    spec = torch.tensor(values, dtype=torch.complex64, requires_grad=True)
    out = magnitude(spec, 1e-7)
    expected = torch.tensor([5.0, 1e-3, 1e-7, 1e-7, 1e-7])
    torch.testing.assert_close(out.detach(), expected)
    out.log().sum().backward()
    assert torch.isfinite(torch.view_as_real(spec.grad)).all()
    torch.testing.assert_close(spec.grad[0], torch.tensor(complex(3.0, 4.0) / 25.0, dtype=torch.complex64))

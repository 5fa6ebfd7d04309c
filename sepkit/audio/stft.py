"""The STFT front end every spectral model and loss shares: windows, analysis, power, synthesis.

Conventions, the same as ``torch.stft``/``torch.istft`` with ``center=True``: frame ``t`` covers
samples ``t·hop - n_fft/2 .. t·hop + n_fft/2`` of the signal, padded at both ends (with zeros,
``pad_mode="constant"``, unless a caller asks for ``"reflect"``, ``torch.stft``'s own default,
as the MR-STFT loss and ``ssl_blstm`` do), so a signal of ``T`` samples has ``1 + T // hop``
frames of ``n_fft // 2 + 1`` bins; ``istft`` overlap-adds the windowed inverse DFTs and divides by
the overlap-added squared window, cut to ``length``. ``center=False`` frames from sample 0 with no
padding (the streaming framer and the log-mel stem step through a signal that way).

Windows are periodic; ``sqrt_hann`` (the square root of a Hann window) is the analysis and
synthesis pair whose squares sum to a constant at 50 % and 75 % overlap. A module keeps its window
as a non-persistent buffer (``add_window``): it follows the module's device and dtype but is never
saved, so model files hold learned weights only. ``sepkit.deploy.stft_conv`` re-implements the
centred, zero-padded pair as convolutions for ONNX export, on the window a model holds.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn

WindowKind = Literal["hann", "sqrt_hann", "hamming", "blackman"]
WINDOWS: tuple[str, ...] = ("hann", "sqrt_hann", "hamming", "blackman")
_MAKERS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}


def stft_window(
    n_fft: int, kind: WindowKind = "hann", dtype: torch.dtype | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """A periodic analysis window of ``n_fft`` samples: ``hann``, ``sqrt_hann``, ``hamming`` or ``blackman``."""
    if kind == "sqrt_hann":
        return torch.hann_window(n_fft, dtype=dtype, device=device).sqrt()
    if kind not in _MAKERS:
        raise ValueError(f"unknown window {kind!r} ({', '.join(WINDOWS)})")
    return _MAKERS[kind](n_fft, dtype=dtype, device=device)


def add_window(module: nn.Module, n_fft: int, kind: WindowKind = "hann", name: str = "window") -> None:
    """Register ``stft_window(n_fft, kind)`` on ``module`` as the non-persistent buffer ``name`` (not in its state dict)."""
    module.register_buffer(name, stft_window(n_fft, kind), persistent=False)


def stft(
    wav: torch.Tensor,
    n_fft: int,
    hop: int,
    window: torch.Tensor,
    center: bool = True,
    pad_mode: Literal["constant", "reflect"] = "constant",
) -> torch.Tensor:
    """Complex STFT ``(..., n_fft // 2 + 1, frames)`` of waveforms ``(..., T)`` (see the module's conventions)."""
    lead = wav.shape[:-1]
    spec = torch.stft(
        wav.reshape(-1, wav.shape[-1]), n_fft, hop, window=window, center=center, pad_mode=pad_mode, return_complex=True
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def power_spectrum(spec: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """``|X|² + floor`` of a complex spectrum, from its real and imaginary parts (a finite gradient at 0 with a floor)."""
    out = spec.real.square() + spec.imag.square()
    return out + floor if floor else out


def magnitude(spec: torch.Tensor, floor: float) -> torch.Tensor:
    """``max(|X|, floor)`` with a finite gradient everywhere, denormal bins included.

    ``spec.abs()`` differentiates through ``X / |X|``, which is NaN for denormal ``X`` (about 1e-44, as a
    model's near-silent output gives) even where a clamp zeroes the gradient; the power never divides.
    """
    return power_spectrum(spec).clamp_min(floor * floor).sqrt()


def istft(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor, length: int) -> torch.Tensor:
    """Waveforms ``(..., length)`` of a centred complex STFT ``(..., n_fft // 2 + 1, frames)``."""
    lead = spec.shape[:-2]
    out = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft, hop, window=window, center=True, length=length)
    return out.reshape(*lead, length)

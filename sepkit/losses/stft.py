"""Multi-resolution STFT loss: spectral convergence plus log-magnitude L1 at several resolutions.

Used as an auxiliary loss for waveform models (Yamamoto et al. 2020, Parallel WaveGAN): each
resolution trades time for frequency detail, so artefacts invisible to one are seen by another.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn as nn

from sepkit.audio.stft import WINDOWS, WindowKind, add_window, magnitude, power_spectrum, stft

DEFAULT_RESOLUTIONS = ((512, 128), (1024, 256), (256, 64))


class MultiResolutionSTFTLoss(nn.Module):
    """Mean over resolutions of ``‖|S|−|Ŝ|‖_F / ‖|S|‖_F + mean|log|S| − log|Ŝ||`` on ``(..., T)`` waveforms."""

    def __init__(
        self,
        resolutions: Sequence[tuple[int, int]] = DEFAULT_RESOLUTIONS,
        window: WindowKind = "hann",
        eps: float = 1e-7,
        reduction: Literal["mean", "none"] = "mean",
    ) -> None:
        super().__init__()
        if not resolutions:
            raise ValueError("MultiResolutionSTFTLoss needs at least one (n_fft, hop) resolution")
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r} ({', '.join(WINDOWS)})")
        if reduction not in ("mean", "none"):
            raise ValueError(f"unknown reduction {reduction!r} (mean, none)")
        self.resolutions = [(int(n_fft), int(hop)) for n_fft, hop in resolutions]
        self.eps = eps
        self.reduction = reduction
        for n_fft, _ in self.resolutions:
            add_window(self, n_fft, window, name=f"window_{n_fft}")

    def _magnitude(self, wav: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
        spec = stft(wav, n_fft, hop, getattr(self, f"window_{n_fft}"), pad_mode="reflect")
        return magnitude(spec, self.eps)  # (N, F, frames); the floor keeps log and its gradient finite

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Loss between ``est`` and ``ref`` of the same ``(..., T)`` shape: a scalar, or ``(...)`` with reduction="none"."""
        if est.shape != ref.shape:
            raise ValueError(f"shape mismatch: estimates {tuple(est.shape)}, references {tuple(ref.shape)}")
        lead = est.shape[:-1]
        est, ref = est.reshape(-1, est.shape[-1]), ref.reshape(-1, ref.shape[-1])
        total = est.new_zeros(est.shape[0])
        for n_fft, hop in self.resolutions:
            e, r = self._magnitude(est, n_fft, hop), self._magnitude(ref, n_fft, hop)
            convergence = torch.linalg.vector_norm(r - e, dim=(1, 2)) / torch.linalg.vector_norm(r, dim=(1, 2))
            log_l1 = (r.log() - e.log()).abs().mean(dim=(1, 2))
            total = total + convergence + log_l1
        total = (total / len(self.resolutions)).reshape(lead)
        return total.mean() if self.reduction == "mean" else total


class CompressedSpectrumLoss(nn.Module):
    """MSE of power-law compressed spectra: ``(1 - w)·‖S_c − Ŝ_c‖² + w·‖|S|^p − |Ŝ|^p‖²`` per example.

    ``S_c = |S|^p · e^{i∠S}`` (p = 0.3). Compression weighs quiet bins closer to how loud ones are
    heard, and the complex term scores phase, which a magnitude loss ignores (the hybrid loss of
    GTCRN, Rong et al. 2024, with its 30/70 split of complex and magnitude terms).

    ``under_weight`` u makes the magnitude term asymmetric: bins the estimate leaves quieter than the
    reference (speech removed) count ``1 + u`` times, louder ones (noise left in) once, as in the
    asymmetric loss of VoiceFilter-Lite (Wang et al. 2020), which trades residual noise for less
    speech distortion. ``over_weight`` o is the opposite trade: louder bins (noise left in) count
    ``1 + o`` times, for a quieter background at some cost to the speech.
    """

    def __init__(
        self,
        n_fft: int = 512,
        hop: int = 128,
        power: float = 0.3,
        magnitude_weight: float = 0.7,
        eps: float = 1e-8,
        under_weight: float = 0.0,
        over_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if under_weight < 0 or over_weight < 0:
            raise ValueError(f"under_weight and over_weight must not be negative, got {under_weight}, {over_weight}")
        self.n_fft, self.hop, self.power, self.magnitude_weight, self.eps = n_fft, hop, power, magnitude_weight, eps
        self.under_weight, self.over_weight = float(under_weight), float(over_weight)
        add_window(self, n_fft, "hann")

    def _compressed(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = stft(wav, self.n_fft, self.hop, self.window, pad_mode="reflect")
        modulus = power_spectrum(spec, self.eps).sqrt()  # eps: finite gradient at 0
        compressed = modulus.pow(self.power)
        return torch.view_as_real(spec * (compressed / modulus)), compressed

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Per-example loss ``(...)`` between ``est`` and ``ref`` of the same ``(..., T)`` shape."""
        if est.shape != ref.shape:
            raise ValueError(f"shape mismatch: estimates {tuple(est.shape)}, references {tuple(ref.shape)}")
        lead = est.shape[:-1]
        (e_ri, e_mag), (r_ri, r_mag) = (self._compressed(x.reshape(-1, x.shape[-1])) for x in (est, ref))
        complex_term = (e_ri - r_ri).square().mean(dim=(1, 2, 3))
        error = e_mag - r_mag
        # bins at error 0 add nothing whichever side's weight they get
        weight = torch.where(error < 0, 1.0 + self.under_weight, 1.0 + self.over_weight)
        magnitude_term = (weight * error.square()).mean(dim=(1, 2))
        w = self.magnitude_weight
        return ((1 - w) * complex_term + w * magnitude_term).reshape(lead)

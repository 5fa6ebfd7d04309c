"""Frame-by-frame losses and the segmental SNR, for data purification (Sivaraman & Kim 2021).

Purification weights a loss frame by frame: signals are cut into Hann-windowed frames (1024/256
at 16 kHz in the papers: 64 ms windows, 16 ms hops), a distance is taken per frame, and the
frames are averaged with weights ``w_t = sigmoid(slope · (SNR̂_t − offset))`` (slope 1, offset 0
in the papers) from an SNR estimator, so frames the estimator finds noisy teach the model less.
The weighted loss of an example is ``(1/T) Σ_t w_t · D_t``: the mean over frames, not a
normalised average, so a whole example judged noisy also counts less than a clean one; or, with
``reduce="energy"``, one SNR whose frame energies are weighted (``weighted_snr``), which equal
weights turn back into the whole-signal SNR.
Without weights the distance is the usual one on the whole signal (``distance``).

Frames are centred (``n // 2`` zeros on each side), the same grid as ``torch.stft(center=True)``
and ``SnrEstimator``, so frame t of every function here is frame t of the estimator.
"""

from __future__ import annotations

from typing import Callable

import torch

from sepkit.audio.stft import stft_window
from sepkit.losses.criteria import EPS, neg_sd_sdr, neg_si_sdr, neg_snr

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean squared error (a loss like the criteria, not negated: lower is better): ``(..., T) -> (...)``."""
    return (est - ref).square().mean(-1)


DISTANCES: dict[str, Distance] = {"snr": neg_snr, "sd_sdr": neg_sd_sdr, "si_sdr": neg_si_sdr, "mse": mse}


def frames(wav: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """Hann-windowed, centred frames ``(..., T) -> (..., 1 + T // hop, window)``."""
    lead = wav.shape[:-1]
    x = torch.nn.functional.pad(wav.reshape(-1, 1, wav.shape[-1]), (window // 2, window // 2))
    cut = x[:, 0].unfold(-1, window, hop)  # (N, frames, window)
    cut = cut[:, : 1 + wav.shape[-1] // hop]
    win = stft_window(window, "hann", dtype=wav.dtype, device=wav.device)
    return (cut * win).reshape(*lead, cut.shape[1], window)


PAPER_FRAMES_SECONDS = (0.064, 0.016)  # the papers' SNR predictor frames: 1024/256 samples at 16 kHz


def frame_grid(sample_rate: int, window_seconds: float, hop_seconds: float) -> tuple[int, int]:
    """Window and hop in samples at ``sample_rate`` for frames of the given durations."""
    window = max(2, round(window_seconds * sample_rate))
    return window, max(1, min(window, round(hop_seconds * sample_rate)))


def segmental_snr(
    speech: torch.Tensor, noise: torch.Tensor, window: int, hop: int, floor_db: float = -30.0, ceil_db: float = 40.0
) -> torch.Tensor:
    """True SNR in dB of every frame, clamped to ``[floor_db, ceil_db]``: ``(..., T) -> (..., frames)``."""
    s = frames(speech.double(), window, hop).square().sum(-1)
    n = frames(noise.double(), window, hop).square().sum(-1)
    snr = 10 * torch.log10((s + EPS * EPS) / (n + EPS * EPS))
    return snr.clamp(floor_db, ceil_db).to(speech.dtype)


def purification_weights(snr_db: torch.Tensor, slope: float = 1.0, offset_db: float = 0.0) -> torch.Tensor:
    """Frame weights ``sigmoid(slope · (SNR̂ − offset))`` in (0, 1): lower estimated SNR, lower weight."""
    return torch.sigmoid(slope * (snr_db - offset_db))


def estimate_errors(est_db: torch.Tensor, true_db: torch.Tensor) -> dict[str, torch.Tensor]:
    """How far estimated frame SNRs are from the true ones, in the terms purification uses: the mean absolute
    error in dB (``mae_db``), of the weights sigmoid(SNR) (``weight_mae``), and the share of frames on the
    right side of 0 dB, where a weight crosses 0.5 (``side_accuracy``)."""
    return {
        "mae_db": (est_db - true_db).abs().mean(),
        "weight_mae": (purification_weights(est_db) - purification_weights(true_db)).abs().mean(),
        "side_accuracy": ((est_db > 0) == (true_db > 0)).to(est_db.dtype).mean(),
    }


def match_frames(values: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Per-frame values ``(B, F)`` stretched to ``n_frames`` frames (linear), for grids off by a frame or two."""
    if values.shape[-1] == n_frames:
        return values
    stretched = torch.nn.functional.interpolate(
        values[:, None].float(), size=n_frames, mode="linear", align_corners=True
    )
    return stretched[:, 0].to(values.dtype)


# How purification's frame weights enter the loss: the mean of w_t·D_t (the papers), one energy-weighted SNR, or
# a purified target (``purified_target``) under the plain distance.
REDUCTIONS = ("frames", "energy", "target")


def sample_weights(weights: torch.Tensor, n_samples: int, hop: int) -> torch.Tensor:
    """Frame weights ``(B, frames)`` (frame t centred on sample t·hop) as a per-sample curve ``(B, n_samples)``."""
    times = torch.arange(n_samples, device=weights.device, dtype=torch.float32) / hop
    lo = times.floor().long().clamp(max=weights.shape[-1] - 1)
    hi = (lo + 1).clamp(max=weights.shape[-1] - 1)
    frac = (times - lo).to(weights.dtype)
    return weights[..., lo] * (1 - frac) + weights[..., hi] * frac


def purified_target(premixture: torch.Tensor, speech: torch.Tensor, weights: torch.Tensor, hop: int) -> torch.Tensor:
    """The premixture where its frames are trusted, a speech estimate of it where they are not: ``ŝ + w·(p − ŝ)``.

    With ``w`` near 1 (a clean frame) the target is the user's recording, as in PseudoSE; near 0 (a frame the
    estimator finds noisy) it is ``speech``, e.g. a frozen enhancer's estimate of the recording's speech, so the
    model is not taught to keep the recording's own noise there, nor let off leaving the injected noise.
    """
    w = sample_weights(weights.detach(), premixture.shape[-1], hop).to(premixture.dtype)
    return speech.detach() + w * (premixture - speech.detach())


def weighted_snr(
    est: torch.Tensor, ref: torch.Tensor, weights: torch.Tensor, window: int = 1024, hop: int = 256, eps: float = EPS
) -> torch.Tensor:
    """Negative SNR with every frame's energies weighted: ``(B,)``, ``-10 log10(Σ_t w_t‖r_t‖² / Σ_t w_t‖r_t − e_t‖²)``.

    Equal weights give the whole-signal SNR (Hann frames at a quarter-window hop sum to a constant), so
    purification only shifts the loss towards the frames it trusts, where a mean of per-frame SNRs would
    also change the distance itself (every quiet frame counting as much as a loud one).
    """
    ref_f, err_f = frames(ref, window, hop), frames(ref - est, window, hop)
    w = match_frames(weights.detach(), ref_f.shape[-2]).to(ref_f.dtype)
    signal = (w * ref_f.square().sum(-1)).sum(-1)
    error = (w * err_f.square().sum(-1)).sum(-1)
    return -10 * torch.log10((signal + eps) / (error + eps))


def weighted_distance(
    est: torch.Tensor,
    ref: torch.Tensor,
    distance: Distance,
    weights: torch.Tensor | None = None,
    window: int = 1024,
    hop: int = 256,
    reduce: str = "frames",
) -> torch.Tensor:
    """Per-example loss ``(B,)``: ``distance`` on whole signals, or with ``weights`` ``(B, frames)``:
    ``reduce="frames"`` mean(w_t · D_t); ``"energy"`` the energy-weighted SNR (``weighted_snr``, distance snr only)."""
    if weights is None:
        return distance(est, ref)
    if reduce == "energy":
        if distance is not neg_snr:
            raise ValueError("energy-weighted purification needs the snr distance")
        return weighted_snr(est, ref, weights, window, hop)
    if reduce != "frames":
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, not {reduce!r}")
    per_frame = distance(frames(est, window, hop), frames(ref, window, hop))  # (B, frames)
    w = match_frames(weights.detach(), per_frame.shape[-1]).to(per_frame.dtype)
    return (w * per_frame).mean(-1)

"""A causal per-bin noise-floor estimate by minimum statistics, as an input feature for the STFT enhancers.

The power of each bin is smoothed over a few frames and its minimum over the last ``window`` frames is
taken as the noise floor (Martin, "Noise power spectral density estimation based on optimal smoothing and
minimum statistics", 2001, without its bias correction: a network reading the feature learns that).
The feature is the frame's log power above that floor, an a-posteriori SNR per bin. It tells the network
how far each bin stands above the steady noise even while someone speaks, which the level-free features
(log power minus a one-second running mean) do not: under speech they rise with speech and noise alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from sepkit.models.fast_enhancer import RunningMean

SMOOTHING_SECONDS = 0.04  # time constant of the power smoothing before the minimum
FEATURE_SCALE = 0.1  # natural-log units to about unit range, as the level-free features start


@dataclass
class FloorState:
    """Where a streamed floor stopped: the power smoother, and the last ``window - 1`` smoothed log powers."""

    smoothed: RunningMean = field(default_factory=RunningMean)
    tail: torch.Tensor | None = None


def causal_running_min(
    x: torch.Tensor, window: int, tail: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimum of frames ``t - window + 1 .. t`` for every frame ``t`` of ``x`` ``(B, F, n)``, and the new tail.

    ``tail`` holds the ``window - 1`` frames before the first (none before the signal: +inf); the tail returned
    holds the last ``window - 1`` frames seen, for the next call.
    """
    if tail is None:
        tail = x.new_full((*x.shape[:-1], window - 1), float("inf"))
    full = torch.cat([tail, x], dim=-1)
    return -F.max_pool1d(-full, window, stride=1), full[..., x.shape[-1] :]


def above_floor(
    log_power: torch.Tensor, log_smoothed: torch.Tensor, window: int, state: FloorState | None = None
) -> torch.Tensor:
    """Features ``(B, F, n)``: each frame's log power above the minimum of the smoothed log power over ``window`` frames.

    ``log_smoothed`` is the log of the bias-corrected exponential average of the power (``SMOOTHING_SECONDS``);
    with ``state`` the minimum reaches into the frames of earlier calls, and ``state.tail`` moves on.
    """
    floor, tail = causal_running_min(log_smoothed, window, None if state is None else state.tail)
    if state is not None:
        state.tail = tail
    return FEATURE_SCALE * (log_power - floor)

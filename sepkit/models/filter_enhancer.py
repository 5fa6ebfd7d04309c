"""FilterEnhancer: a causal STFT enhancer that predicts a short complex filter per bin (deep filtering).

STFT (sqrt-Hann, 20 ms window, 10 ms hop at 16 kHz) -> level-independent features (log power minus
its causal running mean, as in ``fast_enhancer``) -> Linear -> unidirectional GRU -> Linear ->
``order`` bounded complex taps per bin -> each output frame is the sum of the taps times the
current and previous input frames (Schröter et al., DeepFilterNet, 2022: a multi-frame filter
recovers the periodic structure that one complex gain per 50 Hz bin cannot) -> iSTFT.

Everything is causal: an output sample depends only on input up to the end of its frame, so the
algorithmic latency is one window (20 ms), and ``step_frames`` runs the same maths on a few frames
at a time, carrying the running mean, the GRU state and the frames the taps reach back to
(``sepkit.inference.stream`` does the framing). Because the output is a filtered copy of the input
spectrum, the input level passes through unless the model itself attenuates.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.audio.stft import istft
from sepkit.errors import ModelError
from sepkit.models.fast_enhancer import LevelFreeGruTrunk, StreamState, bounded_complex
from sepkit.models.post_filter import apply_post_filter
from sepkit.models.registry import register_model


def apply_frame_filter(spec: torch.Tensor, taps: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_k taps[..., k] * spec[..., t - k]``: a causal filter across frames, per bin.

    ``spec`` is ``(B, F, frames)`` complex and ``taps`` ``(B, F, frames, order)`` complex; the frames
    before the first are ``past`` ``(B, F, order - 1)``, zeros if not given.
    """
    order = taps.shape[-1]
    if past is None:
        padded = F.pad(
            torch.view_as_real(spec), (0, 0, order - 1, 0)
        )  # (B, F, order-1+frames, 2): zeros before frame 0
    else:
        padded = torch.cat([torch.view_as_real(past), torch.view_as_real(spec)], dim=2)
    frames = torch.view_as_complex(padded.unfold(2, order, 1).movedim(-1, -2).contiguous())  # (B, F, frames, order)
    return (frames.flip(-1) * taps).sum(-1)  # flip: tap 0 meets the current frame


@register_model("filter_enhancer")
class FilterEnhancer(LevelFreeGruTrunk):
    """Causal GRU deep-filter enhancer on a 20 ms / 10 ms STFT; ``(B, T) -> (B, 1, T)``."""

    n_src = 1
    causal = True

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 320,
        hop: int = 160,
        hidden: int = 256,
        layers: int = 2,
        order: int = 3,
        tap_max: float = 1.5,
        norm_tau: float = 1.0,
        post_filter: float = 0.0,
    ) -> None:
        super().__init__()
        if not (
            n_fft > 0
            and 0 < hop <= n_fft // 2
            and hidden > 0
            and layers > 0
            and order >= 1
            and tap_max > 0
            and norm_tau > 0
            and post_filter >= 0
        ):
            raise ModelError(
                "filter_enhancer: need positive n_fft, hidden, layers, order, tap_max, norm_tau, post_filter >= 0 and 0 < hop <= n_fft/2"
            )
        self.sample_rate, self.n_fft, self.hop, self.order = int(sample_rate), int(n_fft), int(hop), int(order)
        self.tap_max = float(tap_max)
        self.post_filter = float(post_filter)  # beta of sepkit.models.post_filter; 0 = off
        self.alpha = math.exp(-hop / (sample_rate * norm_tau))  # running-mean decay per frame
        self.latency_samples = self.n_fft  # one window when streamed in hop-size blocks
        n_freqs = self._build_trunk(n_fft, hidden, layers)
        self.decode = nn.Linear(hidden, n_freqs * order * 2)
        self._init_to_pass_through()

    def _init_to_pass_through(self) -> None:
        """Start near the identity filter (tap 0 ≈ 0.9, others ≈ 0) so training begins from the input."""
        with torch.no_grad():
            self.decode.weight.mul_(0.1)
            bias = self.decode.bias.view(-1, self.order, 2)
            bias.zero_()
            bias[:, 0, 0] = math.atanh(min(0.9 / self.tap_max, 0.9))

    def taps(self, feats: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Bounded complex filter taps ``(B, F, frames, order)`` from features ``(B, frames, F)``."""
        out, hidden = self.network(feats, None if state is None else state.hidden)
        if state is not None:
            state.hidden = hidden
        out = out.unflatten(-1, (-1, self.order, 2)).permute(0, 2, 1, 3, 4)  # (B, F, frames, order, 2)
        return bounded_complex(torch.view_as_complex(out.contiguous()), self.tap_max)

    def stream_state(self) -> StreamState:
        """A fresh state for ``step_frames``: the start of a signal."""
        return StreamState()

    def step_frames(self, spec: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Filtered STFT frames ``(B, F, n)`` of the next ``n`` frames of ``spectrum``'s grid; ``state`` moves on."""
        taps = self.taps(self.features(spec, state.mean), state)
        past = state.past if state.past is not None else spec.new_zeros(*spec.shape[:2], self.order - 1)
        est = apply_post_filter(apply_frame_filter(spec, taps, past), spec, self.post_filter)
        frames = torch.cat([past, spec], dim=-1)
        state.past = frames[..., frames.shape[-1] - (self.order - 1) :]
        return est

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Enhance ``(B, T)`` noisy speech into ``(B, 1, T)``."""
        spec = self.spectrum(wav)
        est = apply_post_filter(apply_frame_filter(spec, self.taps(self.features(spec))), spec, self.post_filter)
        return istft(est, self.n_fft, self.hop, self.window, wav.shape[-1]).unsqueeze(1)

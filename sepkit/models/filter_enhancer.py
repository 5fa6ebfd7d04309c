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

``lookahead: L`` (frames, 10 ms each at the default hop) lets each output frame use the L frames
after it, as DeepFilterNet does: the GRU runs L frames behind the input and hears the L newest
frames' features through a second input (``ahead``), and the filter gains L taps on those frames.
The latency grows by L hops. A model trained without look-ahead loads into one with it with its
output unchanged (``load_widened``: the new input and taps start at zero), then learns to use it.

``noise_floor: S`` (seconds) gives the GRU a third input: each bin's log power above its noise floor, the
minimum of its smoothed power over the last S seconds (``sepkit.models.noise_floor``). The level-free
features rise with speech and noise alike while someone talks; this one says per bin how far the frame
stands above the steady noise. A model without it widens into one with it, output unchanged, the same way.

``spectral_context: C`` (channels) gives the GRU a fourth input: two small convolutions (C channels, stride 2
over frequency, 3 frames each in time) over the level-free features of the frame it hears and its neighbours,
up to the newest frame in (the look-ahead), so each step sees the local pattern across bins and frames
(harmonics, onsets) that one linear layer per frame reads poorly; DeepFilterNet's encoders are convolutional for
this reason. It looks back 4 frames and ahead no further than the look-ahead, so the latency is unchanged. A
model without it widens into one with it, output unchanged: its read-out into the GRU starts at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.audio.stft import istft, power_spectrum
from sepkit.errors import ModelError
from sepkit.models.fast_enhancer import (
    _POWER_FLOOR,
    LevelFreeGruTrunk,
    StreamState,
    bounded_complex,
    causal_running_mean,
)
from sepkit.models.noise_floor import SMOOTHING_SECONDS, FloorState, above_floor
from sepkit.models.post_filter import apply_post_filter
from sepkit.models.registry import register_model

CONTEXT_FRAMES = 3  # frames each of spectral_context's two convolutions spans in time
CONTEXT_REACH = 2 * (CONTEXT_FRAMES - 1)  # earlier frames the context of one frame reaches back to


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


@dataclass
class FilterStreamState(StreamState):
    """``StreamState`` plus where the noise-floor estimate stopped (models with ``noise_floor``)."""

    floor: FloorState = field(default_factory=FloorState)
    context_past: torch.Tensor | None = None  # models with ``spectral_context``: the last features it reaches back to


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
        lookahead: int = 0,
        noise_floor: float = 0.0,
        spectral_context: int = 0,
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
            and lookahead >= 0
            and noise_floor >= 0
            and spectral_context >= 0
        ):
            raise ModelError(
                "filter_enhancer: need positive n_fft, hidden, layers, order, tap_max, norm_tau, post_filter >= 0, "
                "lookahead >= 0, noise_floor >= 0, spectral_context >= 0 and 0 < hop <= n_fft/2"
            )
        self.sample_rate, self.n_fft, self.hop, self.order = int(sample_rate), int(n_fft), int(hop), int(order)
        self.tap_max = float(tap_max)
        self.post_filter = float(post_filter)  # beta of sepkit.models.post_filter; 0 = off
        self.alpha = math.exp(-hop / (sample_rate * norm_tau))  # running-mean decay per frame
        self.lookahead_frames = int(lookahead)  # output frame t is computed once frame t + L is in
        self.taps_per_bin = self.order + self.lookahead_frames  # L on later frames, then the current and earlier ones
        self.latency_samples = self.n_fft + self.lookahead_frames * self.hop  # one window and L hops, streamed
        # the noise floor's minimum spans this many frames (0: no floor input); its power smoother's decay per frame
        self.floor_window = max(2, round(noise_floor * sample_rate / hop)) if noise_floor > 0 else 0
        self.floor_alpha = math.exp(-hop / (sample_rate * SMOOTHING_SECONDS))
        n_freqs = self._build_trunk(n_fft, hidden, layers)
        if self.lookahead_frames:
            self.ahead = nn.Linear(n_freqs * self.lookahead_frames, hidden, bias=False)
        if self.floor_window:
            self.floor_in = nn.Linear(n_freqs, hidden, bias=False)
        self.context_channels = int(spectral_context)
        if self.context_channels:
            c = self.context_channels
            self.context_conv = nn.Sequential(
                nn.Conv2d(1, c, (CONTEXT_FRAMES, 5), stride=(1, 2), padding=(0, 2)),
                nn.ELU(),
                nn.Conv2d(c, c, (CONTEXT_FRAMES, 3), stride=(1, 2), padding=(0, 1)),
                nn.ELU(),
            )
            strided_bins = ((n_freqs + 1) // 2 + 1) // 2  # after two strides of 2
            self.context_in = nn.Linear(c * strided_bins, hidden, bias=False)
        self.decode = nn.Linear(hidden, n_freqs * self.taps_per_bin * 2)
        self._init_to_pass_through()

    def _init_to_pass_through(self) -> None:
        """Start near the identity filter (the current frame's tap ≈ 0.9, others ≈ 0) so training begins from the input."""
        with torch.no_grad():
            self.decode.weight.mul_(0.1)
            bias = self.decode.bias.view(-1, self.taps_per_bin, 2)
            bias.zero_()
            bias[:, self.lookahead_frames, 0] = math.atanh(min(0.9 / self.tap_max, 0.9))

    def inputs(
        self, spec: torch.Tensor, state: FilterStreamState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The level-free features ``(B, frames, F)`` and each bin's log power above its noise floor (None for a
        model without that input), from one power spectrum; with ``state`` both continue where it stopped."""
        power = power_spectrum(spec, _POWER_FLOOR)
        log_power = torch.log(power)
        feats = self.level_free(log_power, None if state is None else state.mean)
        if not self.floor_window:
            return feats, None
        floor_state = None if state is None else state.floor
        smoothed = causal_running_mean(power, self.floor_alpha, None if floor_state is None else floor_state.smoothed)
        return feats, above_floor(log_power, torch.log(smoothed), self.floor_window, floor_state).transpose(1, 2)

    def taps(
        self, feats: torch.Tensor, state: StreamState | None = None, floor: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Bounded complex filter taps ``(B, F, frames, L + order)`` from features ``(B, frames, F)``.

        With look-ahead L the GRU hears frame t - L and the ``ahead`` input frames t - L + 1 .. t, and
        the taps of frame t filter output frame t - L (tap k meets input frame t - k). ``floor``
        ``(B, frames, F)`` (from ``inputs``) reaches the GRU with the frame it hears.
        """
        width, extra = feats.shape[-1], None
        heard = self.spectral_context(feats, state) if self.context_channels else None
        if floor is not None:
            feats = torch.cat([feats, floor], dim=-1)  # delayed together
        if self.lookahead_frames:
            feats, later = self._delayed(feats, state, width)
            if feats.shape[1] == 0:  # streaming, within the first L frames: no output frame yet
                bins = self.decode.out_features // (2 * self.taps_per_bin)
                return torch.zeros(feats.shape[0], bins, 0, self.taps_per_bin, dtype=torch.complex64)
            extra = self.ahead(later)
        if floor is not None:
            feats, floor_heard = feats[..., :width], self.floor_in(feats[..., width:])
            extra = floor_heard if extra is None else extra + floor_heard
        if heard is not None:  # step j hears frame j - L: its context is the one of the newest frame, j
            heard = heard[:, heard.shape[1] - feats.shape[1] :]
            extra = heard if extra is None else extra + heard
        out, hidden = self.network(feats, None if state is None else state.hidden, extra)
        if state is not None:
            state.hidden = hidden
        out = out.unflatten(-1, (-1, self.taps_per_bin, 2)).permute(0, 2, 1, 3, 4)  # (B, F, frames, taps, 2)
        return bounded_complex(torch.view_as_complex(out.contiguous()), self.tap_max)

    def spectral_context(self, feats: torch.Tensor, state: FilterStreamState | None = None) -> torch.Tensor:
        """``spectral_context``'s input to the GRU ``(B, frames, hidden)``, one per frame of the level-free
        features ``(B, frames, F)``, from that frame and the ``CONTEXT_REACH`` before it (zeros before the
        signal; with ``state``, the ones the previous call ended on)."""
        past = None if state is None else state.context_past
        if past is None:
            past = feats.new_zeros(feats.shape[0], CONTEXT_REACH, feats.shape[-1])
        full = torch.cat([past, feats], dim=1)
        if state is not None:
            state.context_past = full[:, full.shape[1] - CONTEXT_REACH :]
        maps = self.context_conv(full.unsqueeze(1))  # (B, C, frames, F'): valid in time, so one map per new frame
        return self.context_in(maps.transpose(1, 2).flatten(2))

    def _delayed(self, feats: torch.Tensor, state: StreamState | None, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The GRU's inputs for every frame t >= L among these: the features of frame t - L ``(B, m, C)`` and the
        first ``width`` of frames t - L + 1 .. t ``(B, m, L·width)``; the GRU starts at frame L, so nothing runs
        before the signal."""
        lag = self.lookahead_frames
        full = feats if state is None or state.context is None else torch.cat([state.context, feats], dim=1)
        if state is not None:
            state.context = full[:, -lag:]
        count = max(0, full.shape[1] - lag)
        later = torch.cat([full[:, k + 1 : k + 1 + count, :width] for k in range(lag)], dim=-1)
        return full[:, :count], later

    def load_widened(self, weights: dict[str, torch.Tensor]) -> list[str]:
        """A narrower model's ``weights`` (fewer units, or no look-ahead) in this one, with the output unchanged.

        A source without look-ahead gets a zero ``ahead`` input and zero taps on the later frames, its
        own taps moved L places on (they meet the same frames relative to the output frame); one without
        the noise-floor input gets it at zero weight, and one without ``spectral_context`` gets its
        convolutions as initialised and their read-out at zero.
        """
        weights, grown = dict(weights), []
        if self.context_channels and "context_in.weight" not in weights:
            own = self.state_dict()
            h = int(weights["encode.weight"].shape[0])
            grown.append("context_in.weight")
            weights["context_in.weight"] = own["context_in.weight"].new_zeros(h, own["context_in.weight"].shape[1])
            weights.update({name: own[name] for name in own if name.startswith("context_conv.")})
        if self.floor_window and "floor_in.weight" not in weights:
            grown.append("floor_in.weight")
            weights["floor_in.weight"] = torch.zeros_like(weights["encode.weight"])
        if self.lookahead_frames and "ahead.weight" not in weights:
            grown += ["ahead.weight", "decode.weight", "decode.bias"]
            h, bins = int(weights["encode.weight"].shape[0]), int(weights["encode.weight"].shape[1])
            weights["ahead.weight"] = weights["encode.weight"].new_zeros(h, bins * self.lookahead_frames)
            for name in ("decode.weight", "decode.bias"):
                old = weights[name]
                taps = old.unflatten(0, (bins, -1, 2))  # (F, order, 2, ...)
                if taps.shape[1] != self.order:
                    raise ModelError(f"load_widened: the source has {taps.shape[1]} taps, this model {self.order}")
                with_lookahead = taps.new_zeros(bins, self.taps_per_bin, *taps.shape[2:])
                with_lookahead[:, self.lookahead_frames :] = taps
                weights[name] = with_lookahead.flatten(0, 2)
        widened = super().load_widened(weights)
        return widened + [name for name in grown if name not in widened]

    def stream_state(self) -> FilterStreamState:
        """A fresh state for ``step_frames``: the start of a signal."""
        return FilterStreamState()

    def step_frames(self, spec: torch.Tensor, state: FilterStreamState) -> torch.Tensor:
        """Filtered STFT frames ``(B, F, m)`` for the next ``n`` frames of ``spectrum``'s grid; ``state`` moves on.

        With look-ahead L they are output frames t - L for the new input frames t >= L (m = n after the first L).
        """
        feats, floor = self.inputs(spec, state)
        taps = self.taps(feats, state, floor)  # (B, F, m, taps)
        reach, lag, n, m = self.taps_per_bin - 1, self.lookahead_frames, spec.shape[-1], taps.shape[2]
        past = state.past if state.past is not None else spec.new_zeros(*spec.shape[:2], reach)
        frames = torch.cat([past, spec], dim=-1)  # the frames the taps reach, then the new ones
        state.past = frames[..., frames.shape[-1] - reach :]
        if m == 0:
            return spec[..., :0]
        est = apply_frame_filter(frames[..., reach + n - m :], taps, frames[..., n - m : n - m + reach])
        return apply_post_filter(est, frames[..., reach + n - m - lag : reach + n - lag], self.post_filter)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Enhance ``(B, T)`` noisy speech into ``(B, 1, T)``."""
        lag, reach = self.lookahead_frames, self.taps_per_bin - 1
        spec = self.spectrum(F.pad(wav, (0, lag * self.hop)))  # L more frames: the look-ahead of the last ones
        feats, floor = self.inputs(spec)
        taps = self.taps(feats, floor=floor)  # frames L.. of spec, for output frames 0..
        past = F.pad(torch.view_as_real(spec[..., :lag]), (0, 0, reach - lag, 0))  # zeros before frame 0
        est = apply_frame_filter(spec[..., lag:], taps, torch.view_as_complex(past.contiguous()))
        est = apply_post_filter(est, spec[..., : spec.shape[-1] - lag], self.post_filter)
        return istft(est, self.n_fft, self.hop, self.window, wav.shape[-1]).unsqueeze(1)

"""FastEnhancer: a small causal STFT-mask enhancer that runs far faster than real time on one CPU core.

STFT (sqrt-Hann, 32 ms window, 8 ms hop at 16 kHz) -> log power minus its causal running mean
per bin (so a gain on the input changes nothing) -> Linear -> unidirectional GRU -> Linear ->
bounded mask on the complex spectrum -> iSTFT. Every step is causal, so the same weights
stream frame by frame with ``n_fft`` samples of algorithmic latency: ``step_frames`` carries the
running mean, the GRU state and the gain smoother's past from one run of frames to the next
(``sepkit.inference.stream`` does the framing).

The same weights serve other sample rates: ``args_at_rate`` keeps the window and hop durations
(so bins stay 31.25 Hz apart), and ``load_from_rate`` maps a model trained at one rate onto one
built at another, bin by bin at equal frequencies (used to personalise a 16 kHz base on 8 kHz
telephone audio without resampling the recordings).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio.functional as AF

from sepkit.audio.stft import add_window, istft, magnitude, power_spectrum, stft
from sepkit.errors import ModelError
from sepkit.models.registry import register_model
from sepkit.models.widening import grow_gated, grow_readout, load_grown

MaskKind = Literal["real", "complex"]
_POWER_FLOOR = 1e-10  # keeps log finite on digital silence
_SHORT_RUN = 8  # frames up to which a continued running mean steps through the recursion


@dataclass
class RunningMean:
    """Where a causal running mean stopped: its last moving average ``(...)`` and the frames it has seen."""

    ema: torch.Tensor | None = None
    frames: int = 0


@dataclass
class StreamState:
    """What a causal STFT-GRU model carries from one run of frames to the next (``step_frames``)."""

    mean: RunningMean = field(default_factory=RunningMean)
    hidden: torch.Tensor | None = None  # the GRU's state (layers, B, hidden)
    past: torch.Tensor | None = None  # the model's own: earlier gains (fast_enhancer) or frames (filter_enhancer)
    context: torch.Tensor | None = None  # filter_enhancer with look-ahead: the last features (B, lookahead, F)


def causal_running_mean(x: torch.Tensor, alpha: float, state: RunningMean | None = None) -> torch.Tensor:
    """Bias-corrected exponential moving average along the last axis: the mean of frames 0..t, recent ones weighted most.

    With ``state`` the average continues where the previous call stopped (and ``state`` moves on), so
    running a sequence in pieces gives the one-shot result.
    """
    n, start = x.shape[-1], 0
    if state is None:
        ema = _moving_average(x, alpha)
    elif n <= _SHORT_RUN:  # a few frames (streaming): the recursion itself is far cheaper than a filter call
        last = state.ema if state.ema is not None else torch.zeros_like(x[..., 0])
        steps = []
        for t in range(n):
            last = alpha * last + (1.0 - alpha) * x[..., t]
            steps.append(last)
        ema = torch.stack(steps, dim=-1)
    else:
        ema = _moving_average(x, alpha)
        if state.ema is not None:  # the earlier average decays into this run
            ema = ema + state.ema[..., None] * alpha ** torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    if state is not None:
        start = state.frames
        state.ema = ema[..., -1].clone()
        # past this count 1 - alpha**t is exactly 1 in float32: the count stops growing, the result is the same
        state.frames = min(start + n, math.ceil(math.log(1e-12) / math.log(alpha)))
    steps = torch.arange(start + 1, start + n + 1, dtype=x.dtype, device=x.device)
    return ema / (1.0 - alpha**steps)  # without the correction, early frames would be pulled towards 0


def _moving_average(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``y[t] = alpha * y[t - 1] + (1 - alpha) * x[t]`` along the last axis, from ``y[-1] = 0``."""
    a = torch.tensor([1.0, -alpha], dtype=x.dtype, device=x.device)
    b = torch.tensor([1.0 - alpha, 0.0], dtype=x.dtype, device=x.device)
    return AF.lfilter(x, a, b, clamp=False)


def bounded_complex(z: torch.Tensor, limit: float) -> torch.Tensor:
    """``z`` with its magnitude squashed to below ``limit`` by tanh, phase kept."""
    size = magnitude(z, 1e-8)
    return z * (limit * torch.tanh(size) / size)


# layers into the GRU's input units (rows), in every trunk that has them
INPUT_LAYERS = ("encode.weight", "encode.bias", "ahead.weight", "floor_in.weight", "context_in.weight")


class LevelFreeGruTrunk(nn.Module):
    """What the causal STFT-GRU enhancers share: the STFT, level-free features and the GRU with its skip.

    Subclasses call ``_build_trunk`` (the sqrt-Hann ``window``, ``feat_scale``, ``feat_bias``, ``encode``,
    ``gru``), then create ``decode`` and set ``n_fft``, ``hop`` and ``alpha``; they differ only in what the
    decoded outputs mean.
    """

    def _build_trunk(self, n_fft: int, hidden: int, layers: int) -> int:
        """Create the window and the layers before ``decode``; returns the number of bins."""
        n_freqs = n_fft // 2 + 1
        add_window(self, n_fft, "sqrt_hann")
        # learnable per-bin affine on the normalised log power (init: natural-log units scaled to ~unit range)
        self.feat_scale = nn.Parameter(torch.full((n_freqs,), 0.1))
        self.feat_bias = nn.Parameter(torch.zeros(n_freqs))
        self.encode = nn.Linear(n_freqs, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
        return n_freqs

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, F, frames)``; zero padding at the edges keeps the first frame causal-friendly."""
        return stft(wav, self.n_fft, self.hop, self.window)

    def features(self, spec: torch.Tensor, mean: RunningMean | None = None) -> torch.Tensor:
        """Level-independent features ``(B, frames, F)``: log power minus its causal running mean, per bin."""
        return self.level_free(torch.log(power_spectrum(spec, _POWER_FLOOR)), mean)

    def level_free(self, log_power: torch.Tensor, mean: RunningMean | None = None) -> torch.Tensor:
        """``features`` from the log power ``(B, F, frames)`` a caller has already computed."""
        normed = log_power - causal_running_mean(log_power, self.alpha, mean)
        return (normed * self.feat_scale[:, None] + self.feat_bias[:, None]).transpose(1, 2)

    def network(
        self, feats: torch.Tensor, hidden: torch.Tensor | None = None, extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw decoded outputs ``(B, frames, F·c)`` for features ``(B, frames, F)``, and the GRU's last state.

        ``extra`` ``(B, frames, hidden)`` is added to the encoded features before the ReLU (a second input,
        e.g. ``filter_enhancer``'s look-ahead frames).
        """
        encoded = self.encode(feats)
        x = torch.relu(encoded if extra is None else encoded + extra)
        y, hidden = self.gru(x, hidden)
        return self.decode(y + x), hidden

    def load_widened(self, weights: dict[str, torch.Tensor]) -> list[str]:
        """Load a narrower trunk's ``weights`` into this wider one so that the output is unchanged (Net2Net-style).

        The source's units take the first ``h`` places of every hidden-size axis (per GRU gate) and the new
        units have no say in the output (``sepkit.models.widening``). Needs the same bins, layers and output
        width; returns the names of the tensors that were widened.
        """
        own = self.state_dict()
        h, wide = int(weights["encode.weight"].shape[0]), int(own["encode.weight"].shape[0])
        if h > wide or set(weights) != set(own):
            raise ModelError(f"load_widened: needs the same layers and a hidden size of at most {wide} (source: {h})")

        def grow(name: str, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor | None:
            if name.startswith("gru."):  # three gates of `wide` units each; the input's old units first
                return grow_gated(old, new, 3, None)
            if name in INPUT_LAYERS:  # rows: the units
                return grow_gated(old, new, 1, None)
            return grow_readout(old, new, torch.arange(h)) if name == "decode.weight" else None

        return load_grown(self, weights, grow)


@register_model("fast_enhancer")
class FastEnhancer(LevelFreeGruTrunk):
    """Causal GRU mask estimator on a log-power STFT; ``(B, T) -> (B, 1, T)``, ~0.9 M parameters by default."""

    n_src = 1
    causal = True

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop: int = 128,
        hidden: int = 256,
        layers: int = 2,
        mask: MaskKind = "real",
        mask_max: float = 1.2,
        norm_tau: float = 1.0,
        mask_floor: float = 0.0,
        smooth_bins: int = 1,
        smooth_frames: int = 1,
    ) -> None:
        super().__init__()
        if mask not in ("real", "complex"):
            raise ModelError(f"fast_enhancer: mask must be 'real' or 'complex', not {mask!r}")
        if not (n_fft > 0 and 0 < hop <= n_fft // 2 and hidden > 0 and layers > 0 and mask_max > 0 and norm_tau > 0):
            raise ModelError(
                "fast_enhancer: n_fft, hidden, layers, mask_max, norm_tau must be positive and hop <= n_fft/2"
            )
        self.sample_rate, self.n_fft, self.hop, self.mask = int(sample_rate), int(n_fft), int(hop), mask
        self.mask_max = float(mask_max)
        if not (0.0 <= mask_floor < mask_max and smooth_bins >= 1 and smooth_bins % 2 and smooth_frames >= 1):
            raise ModelError(
                "fast_enhancer: need 0 <= mask_floor < mask_max, an odd smooth_bins >= 1 and smooth_frames >= 1"
            )
        if mask == "complex" and (mask_floor > 0 or smooth_bins > 1 or smooth_frames > 1):
            raise ModelError("fast_enhancer: mask_floor and smoothing apply to the real mask only")
        # Post-processing of the gain (no weights; settable on a trained model): a floor limits the
        # attenuation, smoothing over neighbouring bins and past frames (causal) tames musical noise.
        self.mask_floor, self.smooth_bins, self.smooth_frames = float(mask_floor), int(smooth_bins), int(smooth_frames)
        self.alpha = math.exp(-hop / (sample_rate * norm_tau))  # running-mean decay per frame
        self.latency_samples = self.n_fft  # algorithmic latency when streamed in hop-size blocks
        n_freqs = self._build_trunk(n_fft, hidden, layers)
        out_per_bin = 1 if mask == "real" else 2
        self.decode = nn.Linear(hidden, n_freqs * out_per_bin)
        self._init_mask_to_unity()

    def _init_mask_to_unity(self) -> None:
        """Start near a pass-through (mask ≈ 1) so training begins from the input, not from noise."""
        target = min(1.0 / self.mask_max, 0.9)
        with torch.no_grad():
            self.decode.weight.mul_(0.1)
            bias = self.decode.bias.view(-1, 1 if self.mask == "real" else 2)
            bias.zero_()
            bias[:, 0] = math.log(target / (1 - target)) if self.mask == "real" else math.atanh(target)

    def masks(self, feats: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Bounded complex masks ``(B, F, frames)`` from features ``(B, frames, F)`` (continuing ``state`` if given)."""
        out, hidden = self.network(feats, None if state is None else state.hidden)
        if state is not None:
            state.hidden = hidden
        out = out.transpose(1, 2)  # (B, F·c, frames)
        if self.mask == "real":
            return torch.complex(self.shape_gain(self.mask_max * torch.sigmoid(out), state), torch.zeros_like(out))
        re, im = out.unflatten(1, (-1, 2)).unbind(2)
        return bounded_complex(torch.complex(re, im), self.mask_max)  # |mask| < mask_max, phase learned

    def shape_gain(self, gain: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """A real gain ``(B, F, frames)`` smoothed (centred in frequency, causal in time), then floored.

        Before the first frame the smoother repeats it; with ``state`` it sees the gains of earlier runs instead.
        """
        if self.smooth_bins > 1 or self.smooth_frames > 1:
            half, past = self.smooth_bins // 2, self.smooth_frames - 1
            if state is not None and past:
                before = state.past if state.past is not None else gain[..., :1].expand(-1, -1, past)
                gain = torch.cat([before, gain], dim=-1)
                state.past = gain[..., -past:]
                past = 0
            padded = F.pad(gain[:, None], (past, 0, half, half), mode="replicate")
            gain = F.avg_pool2d(padded, (self.smooth_bins, self.smooth_frames), stride=1)[:, 0]
        return gain.clamp_min(self.mask_floor) if self.mask_floor > 0 else gain

    # ---- frame by frame -----------------------------------------------------------------------
    def stream_state(self) -> StreamState:
        """A fresh state for ``step_frames``: the start of a signal."""
        return StreamState()

    def step_frames(self, spec: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Enhanced STFT frames ``(B, F, n)`` of the next ``n`` frames of ``spectrum``'s grid; ``state`` moves on."""
        return spec * self.masks(self.features(spec, state.mean), state)

    # ---- the same model at another sample rate ------------------------------------------------
    @staticmethod
    def args_at_rate(args: dict[str, Any], sample_rate: int) -> dict[str, Any]:
        """Constructor arguments for this model at ``sample_rate``: window and hop keep their durations in seconds."""
        defaults = {k: p.default for k, p in inspect.signature(FastEnhancer).parameters.items()}
        ratio = int(sample_rate) / int(args.get("sample_rate", defaults["sample_rate"]))
        n_fft = max(8, round(int(args.get("n_fft", defaults["n_fft"])) * ratio))
        hop = max(1, min(n_fft // 2, round(int(args.get("hop", defaults["hop"])) * ratio)))
        return {**args, "sample_rate": int(sample_rate), "n_fft": n_fft, "hop": hop}

    def load_from_rate(self, base: "FastEnhancer") -> None:
        """Take ``base``'s weights (another rate, same hidden size), mapping its per-bin weights by frequency.

        Bins of this model are matched to the base's bins at the same frequency (linear
        interpolation between them; a copy when both keep 31.25 Hz spacing). Encoder columns are
        scaled by the ratio of bin spacings so that a band adds the same total input. Bins the base
        never saw (above its Nyquist frequency) get no encoder input and the mask of the base's top
        bin. Base bins this model cannot see (above its own Nyquist frequency) are folded into the
        encoder bias at their average feature value, ``feat_bias`` (their normalised log power has
        running mean zero): on average the first layer gets what the base got from them.
        """
        if (base.mask, base.encode.out_features, base.gru.num_layers) != (
            self.mask,
            self.encode.out_features,
            self.gru.num_layers,
        ):
            raise ModelError("fast_enhancer: load_from_rate needs the same mask kind, hidden size and layers")
        n_base = base.n_fft // 2 + 1
        freqs = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64) * self.sample_rate / self.n_fft
        pos = freqs * base.n_fft / base.sample_rate  # fractional base bin of each of our bins
        seen = pos <= n_base - 1 + 1e-9
        lo = pos.floor().long().clamp(max=n_base - 1)
        hi = (lo + 1).clamp(max=n_base - 1)
        frac = torch.where(seen, pos - lo, torch.zeros_like(pos))

        def along_bins(v: torch.Tensor, axis: int) -> torch.Tensor:
            v = v.detach().double().movedim(axis, 0)
            shape = (-1,) + (1,) * (v.dim() - 1)
            out = v[lo] * (1 - frac).view(shape) + v[hi] * frac.view(shape)
            return out.movedim(0, axis)

        spacing = (self.sample_rate / self.n_fft) / (base.sample_rate / base.n_fft)
        base_freqs = torch.arange(n_base, dtype=torch.float64) * base.sample_rate / base.n_fft
        unseen = base_freqs > self.sample_rate / 2 + 1e-6  # base bins above our Nyquist frequency
        per_bin = 1 if self.mask == "real" else 2
        with torch.no_grad():
            state = {k: v.clone() for k, v in base.state_dict().items() if k.startswith("gru.")}
            state["feat_scale"] = along_bins(base.feat_scale, 0)
            state["feat_bias"] = along_bins(base.feat_bias, 0)
            encode = along_bins(base.encode.weight, 1) * spacing
            state["encode.weight"] = torch.where(seen[None, :], encode, torch.zeros_like(encode))
            folded = base.encode.weight.double()[:, unseen] @ base.feat_bias.double()[unseen]
            state["encode.bias"] = base.encode.bias.double() + folded
            weight = base.decode.weight.view(n_base, per_bin, -1)
            bias = base.decode.bias.view(n_base, per_bin)
            state["decode.weight"] = along_bins(weight, 0).reshape(-1, weight.shape[-1])
            state["decode.bias"] = along_bins(bias, 0).reshape(-1)
            own = self.state_dict()
            self.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Enhance ``(B, T)`` noisy speech into ``(B, 1, T)``."""
        spec = self.spectrum(wav)
        est = spec * self.masks(self.features(spec))
        return istft(est, self.n_fft, self.hop, self.window, wav.shape[-1]).unsqueeze(1)

"""A look-ahead peak limiter: keeps every output sample within full scale with a gain that never jumps.

Each sample needs the gain ``ceiling / peak`` (the peak across the channels of one output, so the
stereo image stays put), at most 1. That need is held for ``hold`` samples after the sample and
reached ``lookahead`` samples before it (a sliding minimum over ``[n - hold, n + lookahead]``), then
averaged over the ``lookahead + 1`` samples up to ``n``. Every term of that average covers sample
``n``, so the smoothed gain never exceeds what ``n`` needs, yet it moves in straight ramps instead of
steps. Where nothing comes near full scale the gain is exactly 1: outputs below full scale pass
unchanged, whatever their level. It runs causally on a stream of blocks, ``lookahead`` samples
behind its input, carrying its state from block to block.

With no look-ahead (``lookahead_seconds=0``, for live use where every millisecond counts) nothing can
be ramped in advance: the gain drops at once to what a peak needs, is held as before, and then
returns to 1 in a straight ramp of ``release_seconds``. Still nothing passes full scale, and the
waveform keeps its shape through the peak (a clipper would flatten it), at the price of one step in
the gain where a peak arrives.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import minimum_filter1d

FULL_SCALE = 1.0 - 2.0**-15  # the largest 16-bit sample: a limited output passes any integer format unclipped
LOOKAHEAD_SECONDS = 0.005
HOLD_SECONDS = 0.05  # holding the gain through a syllable's peaks avoids pumping at the pitch rate
RELEASE_SECONDS = 0.005  # without look-ahead: how long the gain takes to ramp from 0 back to 1


class PeakLimiter:
    """Push ``(K, C, n)`` blocks (K outputs of C channels), get them back limited, ``lookahead`` samples later."""

    def __init__(
        self,
        sample_rate: int,
        ceiling: float = FULL_SCALE,
        lookahead_seconds: float = LOOKAHEAD_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
        release_seconds: float = RELEASE_SECONDS,
    ) -> None:
        if not 0.0 < ceiling <= 1.0:
            raise ValueError(f"ceiling must be in (0, 1], got {ceiling}")
        if lookahead_seconds < 0 or hold_seconds < 0 or release_seconds <= 0:
            raise ValueError(
                f"need lookahead_seconds >= 0, hold_seconds >= 0 and release_seconds > 0, got "
                f"{lookahead_seconds}, {hold_seconds}, {release_seconds}"
            )
        self.ceiling = float(ceiling)
        self._target = self.ceiling * (1.0 - 2.0**-20)  # float32 rounding of sample times gain stays under the ceiling
        self.lookahead = 0 if lookahead_seconds == 0 else max(1, round(lookahead_seconds * sample_rate))
        self.hold = max(0, round(hold_seconds * sample_rate))
        self._release_step = 1.0 / max(1.0, release_seconds * sample_rate)  # gain regained per sample, no look-ahead
        self._last_gain: np.ndarray | None = None  # (K,) the last emitted gain, no look-ahead
        self._pending: torch.Tensor | None = None  # (K, C, n) samples not yet emitted
        self._need: np.ndarray | None = None  # (K, hold + lookahead + n): needed gains, from hold + lookahead earlier

    def push(self, block: torch.Tensor) -> torch.Tensor:
        """Feed a block; returns the limited samples whose look-ahead is complete (possibly none)."""
        peak = block.abs().amax(dim=-2).double().numpy()  # (K, n)
        need = np.minimum(1.0, self._target / np.maximum(peak, 1e-30))
        if self._pending is None or self._need is None:
            self._pending = block
            self._need = np.concatenate([np.ones((need.shape[0], self.hold + self.lookahead)), need], axis=-1)
        else:
            self._pending = torch.cat([self._pending, block], dim=-1)
            self._need = np.concatenate([self._need, need], axis=-1)
        return self._emit(self._pending.shape[-1] - self.lookahead)

    def flush(self) -> torch.Tensor:
        """The rest of the signal: past its end no sample needs any gain."""
        if self._pending is None:
            return torch.zeros(0)
        k, c, _ = self._pending.shape
        out = self.push(torch.zeros(k, c, self.lookahead, dtype=self._pending.dtype))
        self._pending = self._need = None
        self._last_gain = None
        return out

    def _emit(self, ready: int) -> torch.Tensor:
        assert self._pending is not None and self._need is not None
        if ready <= 0:
            return self._pending[..., :0]
        span = self._need[:, : self.hold + 2 * self.lookahead + ready]
        out = self._pending[..., :ready]
        if not self.lookahead:
            gain = self._instant_gain(span)
            out = out * torch.from_numpy(gain).to(out.dtype)[:, None, :] if gain.min() < 1.0 else out
        elif span.min() < 1.0:
            out = out * torch.from_numpy(self._gain(span)).to(out.dtype)[:, None, :]
        self._pending = self._pending[..., ready:]
        self._need = self._need[:, ready:]
        return out

    def _gain(self, need: np.ndarray) -> np.ndarray:
        """Smoothed gains ``(K, m)`` from needs ``(K, hold + 2 * lookahead + m)``, ``hold + lookahead`` early."""
        width = self.hold + self.lookahead + 1
        held = minimum_filter1d(need, size=width, axis=-1, mode="nearest")
        held = held[:, width // 2 : width // 2 + need.shape[-1] - width + 1]  # windows wholly inside: lookahead + m
        sums = np.cumsum(np.pad(held, ((0, 0), (1, 0))), axis=-1)
        return (sums[:, self.lookahead + 1 :] - sums[:, : -self.lookahead - 1]) / (self.lookahead + 1)

    def _instant_gain(self, need: np.ndarray) -> np.ndarray:
        """Gains ``(K, m)`` without look-ahead: the held need, left in ramps of ``release_step`` per sample.

        ``g[n] = min(held[n], g[n-1] + step)`` unrolled as a running minimum of ``held[k] - step * k``, so a
        block costs a few array passes; the last gain carries the ramp into the next block.
        """
        width = self.hold + 1
        held = minimum_filter1d(need, size=width, axis=-1, mode="nearest", origin=(width - 1) // 2)[:, self.hold :]
        last = np.ones(held.shape[0]) if self._last_gain is None else self._last_gain
        steps = self._release_step * np.arange(held.shape[-1])
        floor = np.minimum.accumulate(
            np.concatenate([(last + self._release_step)[:, None], held - steps], axis=-1), axis=-1
        )[:, 1:]
        gain = np.minimum(1.0, floor + steps)
        if gain.shape[-1]:
            self._last_gain = gain[:, -1]
        return gain

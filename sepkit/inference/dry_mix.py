"""An attenuation limit: a share of the input mixed back into an enhancer's output, sample-aligned.

``y = (1 - a) * enhanced + a * input`` with ``a = 10 ** (-limit_db / 20)`` lowers the noise by at most
``limit_db`` decibels where the model removes all of it, and leaves speech the model kept as it was. Audio
engineers use it to keep some of a scene's ambience, or to trade residual noise for fewer artefacts.
The input is the original signal at its own rate, so its whole band comes back at that share. A convex
mix of two signals within full scale stays within full scale; the engine's limiter follows it anyway.
"""

from __future__ import annotations

import math

import torch

from sepkit.errors import SepkitError


def dry_share(limit_db: float) -> float:
    """The input's share ``a`` for an attenuation limit in dB (> 0); a one-line error for anything else."""
    try:
        value = float(limit_db)
    except (TypeError, ValueError):
        raise SepkitError(f"the attenuation limit must be a number of dB, got {limit_db!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise SepkitError(f"the attenuation limit must be a positive number of dB, got {limit_db!r}")
    return 10.0 ** (-value / 20.0)


class DryMix:
    """Push ``(C, n)`` input blocks as they go in; ``mix`` each ``(K, C, m)`` output block that answers them.

    Output sample i answers input sample i, so the inputs wait in a queue until their outputs come;
    it holds no more than the engine's own delay.
    """

    def __init__(self, limit_db: float) -> None:
        self.share = dry_share(limit_db)
        self._pending: list[torch.Tensor] = []
        self._held = 0

    def push(self, block: torch.Tensor) -> None:
        """Queue ``(C, n)`` input samples."""
        if block.shape[-1]:
            self._pending.append(block.to(torch.float32))
            self._held += block.shape[-1]

    def mix(self, out: torch.Tensor) -> torch.Tensor:
        """``out`` (``(K, C, m)`` or ``(C, m)``) with the next ``m`` queued input samples mixed in."""
        m = out.shape[-1]
        if m == 0:
            return out
        if m > self._held:
            raise RuntimeError(f"dry mix: {m} output samples answer only {self._held} queued input samples")
        dry = self._take(m)
        return (1.0 - self.share) * out + self.share * dry.to(out.dtype)

    def _take(self, m: int) -> torch.Tensor:
        joined = torch.cat(self._pending, dim=-1) if len(self._pending) != 1 else self._pending[0]
        dry, rest = joined[..., :m], joined[..., m:]
        self._pending = [rest] if rest.shape[-1] else []
        self._held -= m
        return dry

"""Resampling with torchaudio, in one shot or as a stream of blocks that matches the one-shot result.

The stream version cuts the input at multiples of the rate ratio's period and carries enough
context on both sides for torchaudio's windowed-sinc kernel, so concatenated block outputs equal
``torchaudio.functional.resample`` on the whole signal (to float rounding) while memory stays flat.
"""

from __future__ import annotations

import math

import torch
import torchaudio

_LOWPASS_WIDTH = 6  # torchaudio's default; the context below is derived from it
_ROLLOFF = 0.99


def resample(wav: torch.Tensor, orig_sr: int, new_sr: int) -> torch.Tensor:
    """Resample the last axis from ``orig_sr`` to ``new_sr`` (identity when equal)."""
    if orig_sr == new_sr:
        return wav
    return torchaudio.functional.resample(wav, orig_sr, new_sr)


def resampled_length(n: int, orig_sr: int, new_sr: int) -> int:
    """Number of samples torchaudio returns for ``n`` input samples."""
    if orig_sr == new_sr:
        return n
    g = math.gcd(orig_sr, new_sr)
    return math.ceil((new_sr // g) * n / (orig_sr // g))


class StreamResampler:
    """Push ``(channels, n)`` blocks, get resampled blocks; ``flush()`` returns the tail."""

    def __init__(self, orig_sr: int, new_sr: int):
        self.orig_sr, self.new_sr = orig_sr, new_sr
        self.identity = orig_sr == new_sr
        g = math.gcd(orig_sr, new_sr)
        self.period_in, self.period_out = orig_sr // g, new_sr // g
        if not self.identity:
            self._transform = torchaudio.transforms.Resample(orig_sr, new_sr)
            width = math.ceil(_LOWPASS_WIDTH * self.period_in / (min(self.period_in, self.period_out) * _ROLLOFF))
            self.context = self.period_in * math.ceil((width + self.period_in) / self.period_in)
        self._buf: torch.Tensor | None = None
        self._buf_start = 0  # absolute input index of _buf[..., 0]
        self._pos = 0  # next input index (multiple of period_in) whose output is still owed
        self._received = 0
        self._emitted = 0
        self._lead_shape: tuple[int, ...] = ()

    def push(self, block: torch.Tensor) -> torch.Tensor:
        """Feed input samples; returns every output sample that is already final."""
        self._received += block.shape[-1]
        self._lead_shape = tuple(block.shape[:-1])
        if self.identity:
            self._emitted += block.shape[-1]
            return block
        self._buf = block if self._buf is None else torch.cat([self._buf, block], dim=-1)
        end = ((self._received - self.context) // self.period_in) * self.period_in
        if end <= self._pos:
            return block[..., :0]
        return self._emit(end)

    def flush(self) -> torch.Tensor:
        """Return the remaining output (the end of the signal is zero-padded, as in one shot)."""
        if self.identity or self._buf is None:
            return torch.zeros(*self._lead_shape, 0)
        total = resampled_length(self._received, self.orig_sr, self.new_sr)
        left = min(self.context, self._pos)
        seg = self._buf[..., self._pos - left - self._buf_start :]
        out = self._transform(seg)
        first = left // self.period_in * self.period_out
        out = out[..., first : first + total - self._emitted]
        self._emitted = total
        self._buf = None
        return out

    def _emit(self, end: int) -> torch.Tensor:
        assert self._buf is not None
        left = min(self.context, self._pos)
        lo = self._pos - left - self._buf_start
        hi = end + self.context - self._buf_start
        out = self._transform(self._buf[..., lo:hi])
        first = left // self.period_in * self.period_out
        count = (end - self._pos) // self.period_in * self.period_out
        out = out[..., first : first + count]
        self._pos = end
        keep_from = self._pos - self.context
        if keep_from > self._buf_start:
            self._buf = self._buf[..., keep_from - self._buf_start :]
            self._buf_start = keep_from
        self._emitted += out.shape[-1]
        return out

"""Chunked processing of long signals with windowed overlap-add, fed as a stream.

Chunks of ``chunk`` samples start every ``chunk - overlap`` samples (the last one is aligned to
the signal's end). Each chunk's output is weighted by a window that is zero in a guard band of
3/8 of the overlap at both chunk edges and crossfades over the middle quarter; the weighted sum is
divided by the summed weights. Every output sample thus comes from chunk positions at least
``guard`` samples away from a chunk edge, so for a model whose one-sided receptive field is at
most ``guard`` the chunked result equals the one-shot result.

A separator's outputs come in no fixed order: chunk by chunk the same speaker may leave on
another output. So before a chunk with several outputs is added, its outputs are put, channel by
channel, in the order that agrees best with what earlier chunks left in the overlap, away from
the new chunk's edge (largest summed correlation; exhaustive up to 4 outputs, Hungarian above),
and a speaker stays on one output from the start of a file to its end.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from sepkit.losses.pit import best_assignment, reorder

ModelFn = Callable[[torch.Tensor], torch.Tensor]  # (B, L) -> (B, K, L)


def guard_samples(overlap: int) -> int:
    """Samples at each chunk edge that never reach the output (the model's context budget)."""
    return (3 * overlap) // 8


def chunk_window(length: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    """Weights for one chunk: zero guard, raised-cosine ramp, flat top (flat to the edge at signal ends)."""
    guard = guard_samples(overlap)
    ramp = max(overlap - 2 * guard, 1)
    w = torch.ones(length)
    rise = torch.sin(0.5 * math.pi * (torch.arange(ramp) + 0.5) / ramp) ** 2
    if not first:
        w[:guard] = 0.0
        w[guard : guard + ramp] = rise
    if not last:
        w[length - guard :] = 0.0
        w[length - guard - ramp : length - guard] = rise.flip(0)
    return w


def chunk_starts(total: int, chunk: int, overlap: int) -> list[int]:
    """Start offsets of the chunks that cover ``total`` samples (last aligned to the end)."""
    if total <= chunk:
        return [0]
    hop = chunk - overlap
    starts = list(range(0, total - chunk, hop))
    starts.append(total - chunk)
    return starts


class StreamingOverlapAdd:
    """Push ``(C, n)`` input blocks, get final ``(C, K, n)`` output blocks; batches chunks for the model."""

    def __init__(self, model_fn: ModelFn, total: int, chunk: int, overlap: int, batch_size: int = 4):
        if not 0 <= overlap < chunk:
            raise ValueError(f"overlap ({overlap}) must be smaller than the chunk ({chunk})")
        self.model_fn = model_fn
        self.total = total
        self.chunk = min(chunk, total)
        self.overlap = overlap
        self.batch_size = max(1, batch_size)
        self.starts = chunk_starts(total, chunk, overlap)
        self._inp: torch.Tensor | None = None  # input samples from _inp_start on
        self._inp_start = 0
        self._received = 0
        self._next_chunk = 0  # index of the next chunk to queue
        self._queue: list[int] = []
        self._num: torch.Tensor | None = None  # (C, K, n) weighted sums from _out_start on
        self._den: torch.Tensor | None = None
        self._out_start = 0

    def push(self, block: torch.Tensor) -> torch.Tensor | None:
        """Feed input; returns output that no later chunk can change, or None."""
        self._inp = block if self._inp is None else torch.cat([self._inp, block], dim=-1)
        self._received += block.shape[-1]
        out = []
        while self._next_chunk < len(self.starts) and self.starts[self._next_chunk] + self.chunk <= self._received:
            self._queue.append(self._next_chunk)
            self._next_chunk += 1
            if len(self._queue) == self.batch_size:
                out.append(self._run_queue())
        return _cat(out)

    def flush(self) -> torch.Tensor | None:
        """Process what is queued and return the rest of the output."""
        if self._received != self.total:
            raise ValueError(f"expected {self.total} samples, received {self._received}")
        out = [self._run_queue()] if self._queue else []
        return _cat(out)

    def _run_queue(self) -> torch.Tensor:
        assert self._inp is not None
        idx = self._queue
        self._queue = []
        chunks = torch.stack([self._slice(self.starts[i]) for i in idx])  # (b, C, L)
        b, c, length = chunks.shape
        est = self.model_fn(chunks.reshape(b * c, length))  # (b*C, K, L)
        est = est.reshape(b, c, est.shape[-2], length).to(torch.float32).cpu()
        for j, i in enumerate(idx):
            self._accumulate(i, est[j])
        final_upto = self.starts[idx[-1] + 1] if idx[-1] + 1 < len(self.starts) else self.total
        return self._emit(final_upto)

    def _slice(self, start: int) -> torch.Tensor:
        assert self._inp is not None
        lo = start - self._inp_start
        return self._inp[..., lo : lo + self.chunk]

    def _accumulate(self, i: int, est: torch.Tensor) -> None:
        start = self.starts[i]
        w = chunk_window(self.chunk, self.overlap, first=i == 0, last=i == len(self.starts) - 1)
        end = start + self.chunk
        if self._num is None:
            self._num = torch.zeros(est.shape[0], est.shape[1], 0)
            self._den = torch.zeros(0)
        assert self._den is not None
        need = end - self._out_start - self._num.shape[-1]
        if need > 0:
            self._num = torch.cat([self._num, torch.zeros(*self._num.shape[:-1], need)], dim=-1)
            self._den = torch.cat([self._den, torch.zeros(need)])
        lo = start - self._out_start
        if i > 0 and est.shape[1] > 1:  # compare where both chunks are clear of their edges
            a, b = guard_samples(self.overlap), min(self.starts[i - 1] + self.chunk - start, self.chunk)
            before, weight = self._num[..., lo + a : lo + b], self._den[lo + a : lo + b]
            est = reorder(est, align_outputs(before, est[..., a:b] * weight))  # per channel: they went through apart
        self._num[..., lo : lo + self.chunk] += est * w
        self._den[lo : lo + self.chunk] += w

    def _emit(self, upto: int) -> torch.Tensor:
        assert self._num is not None and self._den is not None
        n = upto - self._out_start
        out = self._num[..., :n] / self._den[:n].clamp_min(1e-8)
        self._num, self._den = self._num[..., n:], self._den[n:]
        self._out_start = upto
        # input before the next chunk's start is no longer needed
        if self._next_chunk < len(self.starts):
            keep = min(self.starts[self._next_chunk], self._received)
            if keep > self._inp_start and self._inp is not None:
                self._inp = self._inp[..., keep - self._inp_start :]
                self._inp_start = keep
        return out


def align_outputs(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per channel, the output order ``(C, K)`` for ``after`` ``(C, K, n)`` that best matches ``before`` on shared samples."""
    corr = torch.einsum("ckn,cjn->cjk", before.double(), after.double())  # (C, K after, K before)
    return best_assignment(-corr)


def _cat(parts: list[torch.Tensor]) -> torch.Tensor | None:
    parts = [p for p in parts if p.shape[-1] > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

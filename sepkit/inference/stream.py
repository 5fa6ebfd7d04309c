"""Real-time streaming for causal models: blocks of any size in, the output samples that are ready out.

``FrameStepper`` frames a sample stream on the model's STFT grid (``torch.stft(center=True)``: ``n_fft // 2``
zeros before the first sample and after the last), runs each new run of frames through the model's
``step_frames`` (which carries the GRU state, the running mean and the earlier frames or gains it
needs) and overlap-adds the synthesis frames, dividing by the summed squared window as
``torch.istft`` does. ``AudioStream`` puts it between the stream resamplers and the engine's peak
limiter. Nothing is recomputed and nothing is cross-faded: each input sample is framed once, so the
outputs of any block sizes, concatenated, equal one pass over the whole signal.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sepkit.audio.resample import StreamResampler
from sepkit.audio.stft import stft
from sepkit.errors import AudioError, ModelError, SepkitError
from sepkit.inference.dry_mix import DryMix
from sepkit.inference.limiter import LOOKAHEAD_SECONDS, PeakLimiter


def can_stream(net: nn.Module) -> bool:
    """Whether ``net`` is causal and has a frame-by-frame step."""
    return bool(getattr(net, "causal", False)) and callable(getattr(net, "step_frames", None))


def check_streamable(net: nn.Module, name: str) -> None:
    """A one-line ``ModelError`` saying why ``net`` cannot stream, if it cannot."""
    arch = type(net).__name__
    if not getattr(net, "causal", False):
        raise ModelError(
            f"{name}: {arch} cannot stream: it is not causal (each output sample depends on input "
            f"that comes after it); process whole signals with enhance()/separate() instead"
        )
    if not callable(getattr(net, "step_frames", None)):
        raise ModelError(f"{name}: {arch} is causal but has no frame-by-frame step (step_frames), so it cannot stream")


class FrameStepper:
    """Push ``(C, n)`` samples at the model's rate, get the ``(C, m)`` output samples no later frame can change."""

    def __init__(self, net: nn.Module, device: torch.device) -> None:
        self.net, self.device = net, device
        self.n_fft, self.hop = int(net.n_fft), int(net.hop)
        self.window = net.window.to(device)
        self.half = self.n_fft // 2
        self._state = net.stream_state()
        self._inp: torch.Tensor | None = None  # padded input from the next frame's start on
        self._acc: torch.Tensor | None = None  # overlap-added output from padded sample _out_start on
        self._env: torch.Tensor | None = None  # summed squared windows over the same samples
        self._out_start = 0  # padded index of _acc[..., 0]
        self._frames = 0  # input frames computed so far
        self.lag = int(getattr(net, "lookahead_frames", 0))  # output frame t - lag comes with input frame t
        self.received = 0

    @torch.inference_mode()
    def push(self, block: torch.Tensor) -> torch.Tensor:
        """Feed samples; returns the output that is final (possibly none)."""
        block = block.to(self.device, torch.float32)
        if self._inp is None:  # the centre padding before the first sample
            self._inp = block.new_zeros(block.shape[0], self.half)
            self._acc, self._env = block.new_zeros(block.shape[0], 0), block.new_zeros(0)
        self.received += block.shape[-1]
        self._inp = torch.cat([self._inp, block], dim=-1)
        available = self._inp.shape[-1] - self.n_fft
        if available >= 0:
            self._run(1 + available // self.hop)
        return self._emit(max(0, self._frames - self.lag) * self.hop)  # later output frames start there

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """The rest of the output: ``received`` samples in all, as ``torch.istft(length=received)`` gives."""
        if self._inp is None or self.received == 0:
            return torch.zeros(0 if self._inp is None else self._inp.shape[0], 0)
        self._inp = F.pad(self._inp, (0, self.half + self.lag * self.hop))  # centre padding, then the look-ahead's
        # torch.stft(center=True) gives 1 + received // hop frames; look-ahead needs its lag more to finish them
        self._run(self.received // self.hop + 1 + self.lag - self._frames)
        out = self._emit(self.half + self.received)
        self._inp = None
        return out

    def _run(self, count: int) -> None:
        """Compute ``count`` more frames and overlap-add them."""
        assert self._inp is not None and self._acc is not None and self._env is not None
        if count <= 0:
            return
        span = (count - 1) * self.hop + self.n_fft
        spec = stft(self._inp[..., :span], self.n_fft, self.hop, self.window, center=False)
        est = self.net.step_frames(spec, self._state)  # look-ahead: none for the first `lag` input frames
        first = max(0, self._frames - self.lag)  # the output frame est starts at
        self._frames += count
        self._inp = self._inp[..., count * self.hop :]
        if est.shape[-1] == 0:
            return
        kept = est.shape[-1]
        span = (kept - 1) * self.hop + self.n_fft
        frames = torch.fft.irfft(est, self.n_fft, dim=1) * self.window[:, None]  # (C, n_fft, kept)
        wsq = self.window.square()[None, :, None].expand(1, -1, kept)
        ola = F.fold(frames, (1, span), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        env = F.fold(wsq, (1, span), (1, self.n_fft), stride=(1, self.hop))[0, 0, 0]
        lo = first * self.hop - self._out_start
        grow = lo + span - self._acc.shape[-1]
        if grow > 0:
            self._acc, self._env = F.pad(self._acc, (0, grow)), F.pad(self._env, (0, grow))
        self._acc[..., lo : lo + span] += ola
        self._env[lo : lo + span] += env

    def _emit(self, upto: int) -> torch.Tensor:
        """The output before padded sample ``upto``, normalised by the summed squared windows as ``torch.istft`` does."""
        assert self._acc is not None and self._env is not None
        ready = upto - self._out_start
        out = self._acc[..., :ready] / torch.where(self._env[:ready] > 1e-11, self._env[:ready], 1.0)
        self._acc, self._env = self._acc[..., ready:], self._env[ready:]
        skip = max(0, self.half - self._out_start)  # the centre padding before the first sample is no output
        self._out_start += ready
        return out[..., skip:].cpu()


class AudioStream:
    """``model.stream(rate, channels)``: push blocks at the stream's rate, get the output samples that are ready.

    Output sample i answers input sample i; all ``process`` outputs plus ``flush()`` have the input's length.
    """

    def __init__(
        self,
        net: nn.Module,
        model_rate: int,
        sample_rate: int,
        channels: int,
        device: torch.device,
        name: str = "model",
        limiter_lookahead_ms: float = 1000.0 * LOOKAHEAD_SECONDS,
        attenuation_limit_db: float | None = None,
    ) -> None:
        check_streamable(net, name)
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not isinstance(channels, (int, np.integer)) or channels <= 0:
            raise AudioError(f"channels must be a positive integer, got {channels!r}")
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self._to_model = StreamResampler(self.sample_rate, model_rate)
        self._core = FrameStepper(net, device)
        self._from_model = StreamResampler(model_rate, self.sample_rate)
        if not 0.0 <= limiter_lookahead_ms <= 100.0:
            raise AudioError(f"limiter_lookahead_ms must be within 0..100, got {limiter_lookahead_ms}")
        self._limiter = PeakLimiter(self.sample_rate, lookahead_seconds=limiter_lookahead_ms / 1000.0)
        self._dry = None if attenuation_limit_db is None else DryMix(attenuation_limit_db)
        self._received = self._emitted = 0
        self._flat: bool | None = None  # whether blocks come as (T,)
        self._done = False
        stages = [net.latency_samples / model_rate, self._limiter.lookahead / self.sample_rate]
        for r in (self._to_model, self._from_model):
            if not r.identity:  # an output waits for its kernel's context and a whole period of input
                stages.append((r.context + r.period_in - 1) / r.orig_sr)
        self.latency_ms = 1000.0 * sum(stages)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed a ``(T,)`` or ``(C, T)`` block; returns the output samples that are ready, in the same layout."""
        x = self._check(block)
        self._received += x.shape[-1]
        if self._dry is not None:
            self._dry.push(x)
        y = self._from_model.push(self._core.push(self._to_model.push(x)))
        return self._emit(self._limiter.push(self._trim(y)[None]))

    def flush(self) -> np.ndarray:
        """The rest of the output; the stream is finished afterwards."""
        if self._done:
            raise SepkitError("this stream is already flushed: start a new one with model.stream(...)")
        self._done = True
        if not self._received:
            return self._emit(torch.zeros(self.channels, 0))
        tail = self._to_model.flush()
        model_out = torch.cat([self._core.push(tail), self._core.flush()], dim=-1)
        y = torch.cat([self._from_model.push(model_out), self._from_model.flush()], dim=-1)
        limited = self._limiter.push(self._trim(y)[None])
        return self._emit(torch.cat([limited, self._limiter.flush()], dim=-1))

    def _check(self, block: np.ndarray) -> torch.Tensor:
        if self._done:
            raise SepkitError("this stream is already flushed: start a new one with model.stream(...)")
        if not isinstance(block, np.ndarray):
            raise AudioError(f"a stream block must be a numpy array, got {type(block).__name__}")
        flat = block.ndim == 1
        if block.ndim not in (1, 2) or (flat and self.channels != 1) or (not flat and block.shape[0] != self.channels):
            want = "(T,) or (1, T)" if self.channels == 1 else f"({self.channels}, T)"
            raise AudioError(
                f"a stream block must be {want} for this {self.channels}-channel stream, got shape {block.shape}"
            )
        self._flat = flat if self._flat is None else self._flat
        x = block.reshape(self.channels, -1)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / (float(np.iinfo(x.dtype).max) + 1.0)
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if not torch.isfinite(x).all():
            raise AudioError("a stream block holds NaN or Inf samples")
        return x

    def _trim(self, y: torch.Tensor) -> torch.Tensor:
        """At most as many output samples as input samples so far (the resamplers round lengths up), with
        the input's share mixed in under an attenuation limit."""
        y = y.reshape(self.channels, -1)[:, : max(0, self._received - self._emitted)]
        self._emitted += y.shape[-1]
        return y if self._dry is None else self._dry.mix(y)

    def _emit(self, out: torch.Tensor) -> np.ndarray:
        y = out.reshape(self.channels, -1).numpy().astype(np.float32, copy=False)
        return y[0] if self._flat else y


def stream_signal(
    stream: AudioStream, blocks: Iterable[np.ndarray], on_progress: Callable[[int], None] | None = None
) -> Iterator[np.ndarray]:
    """Every block through ``stream``, then its flush: the outputs that are not empty, in order.

    ``on_progress`` receives the number of input samples consumed after each block.
    """
    consumed = 0
    for block in blocks:
        out = stream.process(np.asarray(block))
        consumed += block.shape[-1]
        if on_progress is not None:
            on_progress(consumed)
        if out.shape[-1]:
            yield out
    rest = stream.flush()
    if rest.shape[-1]:
        yield rest


def stream_blocks(stream: AudioStream, audio: np.ndarray, block: int) -> np.ndarray:
    """A whole signal through ``stream`` in blocks of ``block`` samples, flushed, as one array."""
    blocks = (audio[..., i : i + block] for i in range(0, audio.shape[-1], max(1, block)))
    return np.concatenate([stream.process(audio[..., :0]), *stream_signal(stream, blocks)], axis=-1)


__all__ = ["AudioStream", "can_stream", "stream_blocks", "stream_signal"]

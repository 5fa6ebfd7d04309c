"""The inference engine: any model over any length, rate and channel count, in flat memory.

Input blocks (input rate, ``(C, n)``) are resampled to the model's rate as a stream, cut into
overlapping chunks that are batched through the model (channels go through as batch items),
overlap-added, resampled back to the input rate, optionally mixed with a share of the input
(an attenuation limit, ``dry_mix.py``), and kept within full scale by a look-ahead peak
limiter (``limiter.py``) that leaves every output below full scale as the model made it. Output
length equals input length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn

from sepkit.audio.resample import StreamResampler, resampled_length
from sepkit.inference.dry_mix import DryMix
from sepkit.inference.limiter import PeakLimiter
from sepkit.inference.overlap_add import StreamingOverlapAdd
from sepkit.models.base import fit_length


@dataclass
class InferenceSettings:
    """How to run a model: chunking, batching, device and precision."""

    chunk_seconds: float = 8.0
    overlap_seconds: float = 1.0
    batch_size: int = 4
    device: str = "auto"
    half: bool = False
    # an enhancer trained on a scale-invariant loss alone (SI-SDR) gives its output at an arbitrary level: one
    # least-squares gain per chunk puts it at the input's, as separators' outputs always are (set at export)
    match_gain: bool = False
    # enhancers only: lower the noise by at most this many dB, mixing that share of the input back in (dry_mix.py)
    attenuation_limit_db: float | None = None


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a clear error for an unavailable CUDA request."""
    from sepkit.errors import SepkitError

    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SepkitError(f"device {name!r} requested but no CUDA GPU is available (use --device cpu)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise SepkitError(f"unknown device {name!r} (use auto, cpu or cuda)") from exc


MIN_MODEL_SAMPLES = 1024  # shorter inputs (64 ms at 16 kHz) are zero-padded to this: filterbanks need a few windows


def model_runner(net: nn.Module, device: torch.device, half: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wrap a network as ``(B, L) cpu float32 -> (B, K, L) cpu float32`` under inference mode."""
    use_half = half and device.type == "cuda"

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            x = batch.to(device, non_blocking=True)
            if x.shape[-1] < MIN_MODEL_SAMPLES:  # a file shorter than the model's windows still gets an output
                x = torch.nn.functional.pad(x, (0, MIN_MODEL_SAMPLES - x.shape[-1]))
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_half):
                est = net(x)
            if est.dim() == 2:
                est = est.unsqueeze(1)
            return fit_length(est.float(), batch.shape[-1]).cpu()

    return run


def process_stream(
    blocks: Iterable[np.ndarray | torch.Tensor],
    n_frames: int,
    sample_rate: int,
    model_fn: Callable[[torch.Tensor], torch.Tensor],
    model_rate: int,
    settings: InferenceSettings,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[torch.Tensor]:
    """Yield ``(K, C, n)`` output blocks at the input rate for ``(C, n)`` input blocks, within full scale.

    ``on_progress`` receives the number of input frames consumed after each block. With
    ``settings.attenuation_limit_db`` the input is mixed back in before the limiter.
    """
    limiter = PeakLimiter(sample_rate)
    dry = None if settings.attenuation_limit_db is None else DryMix(settings.attenuation_limit_db)
    if dry is not None:
        blocks = _queued(blocks, dry)
    for out in _model_stream(blocks, n_frames, sample_rate, model_fn, model_rate, settings, on_progress):
        limited = limiter.push(out if dry is None else dry.mix(out))
        if limited.shape[-1]:
            yield limited
    rest = limiter.flush()
    if rest.shape[-1]:
        yield rest


def _queued(blocks: Iterable[np.ndarray | torch.Tensor], dry: DryMix) -> Iterator[torch.Tensor]:
    """The input blocks, each queued in ``dry`` before the model sees it."""
    for block in blocks:
        x = torch.as_tensor(block, dtype=torch.float32)
        dry.push(x)
        yield x


def _model_stream(
    blocks: Iterable[np.ndarray | torch.Tensor],
    n_frames: int,
    sample_rate: int,
    model_fn: Callable[[torch.Tensor], torch.Tensor],
    model_rate: int,
    settings: InferenceSettings,
    on_progress: Callable[[int], None] | None,
) -> Iterator[torch.Tensor]:
    """``process_stream`` before the limiter: the model's own output, resampled back to the input rate."""
    model_len = resampled_length(n_frames, sample_rate, model_rate)
    chunk = max(1, int(round(settings.chunk_seconds * model_rate)))
    overlap = min(int(round(settings.overlap_seconds * model_rate)), chunk - 1)
    to_model = StreamResampler(sample_rate, model_rate)
    ola = StreamingOverlapAdd(model_fn, model_len, chunk, overlap, settings.batch_size)
    from_model = StreamResampler(model_rate, sample_rate)
    emitted = 0
    shape = [1, 1]  # (K, C) of the model output, known after the first chunk

    def trim(y: torch.Tensor) -> Iterator[torch.Tensor]:
        nonlocal emitted
        y = y.reshape(shape[0], shape[1], -1)[..., : n_frames - emitted]
        if y.shape[-1]:
            emitted += y.shape[-1]
            yield y

    def back(out: torch.Tensor | None) -> Iterator[torch.Tensor]:
        if out is None or out.shape[-1] == 0:
            return
        c, k, n = out.shape
        shape[:] = [k, c]
        yield from trim(from_model.push(out.permute(1, 0, 2).reshape(k * c, n)))

    consumed = 0
    for block in blocks:
        x = torch.as_tensor(block, dtype=torch.float32)
        consumed += x.shape[-1]
        yield from back(ola.push(to_model.push(x)))
        if on_progress is not None:
            on_progress(consumed)
    tail = to_model.flush()
    yield from back(ola.push(tail) if tail.shape[-1] else None)
    yield from back(ola.flush())
    rest = from_model.flush()
    if rest.shape[-1]:
        yield from trim(rest)
    if emitted != n_frames:
        raise RuntimeError(f"engine produced {emitted} frames for {n_frames} input frames")


def process_array(
    audio: torch.Tensor,
    sample_rate: int,
    model_fn: Callable[[torch.Tensor], torch.Tensor],
    model_rate: int,
    settings: InferenceSettings,
) -> torch.Tensor:
    """Whole ``(C, T)`` signal -> ``(K, C, T)``, through the same engine as files."""
    block = max(1, int(math.ceil(sample_rate * 30)))
    blocks = (audio[..., i : i + block] for i in range(0, audio.shape[-1], block))
    return torch.cat(list(process_stream(blocks, audio.shape[-1], sample_rate, model_fn, model_rate, settings)), dim=-1)

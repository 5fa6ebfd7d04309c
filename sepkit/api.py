"""The Python API: ``sepkit.load(name_or_dir)`` and the model object it returns.

Arrays and tensors go in as ``(time,)`` or ``(channels, time)`` at any sample rate and come
back in the same type, shape and rate; files stream through the same engine in flat memory.
The CLI is a thin layer over this module.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Union

import numpy as np
import torch
import torch.nn as nn

import sepkit.models  # noqa: F401  (registers the architectures)
from sepkit.audio.io import AtomicAudioWriter, audio_info, check_output, iter_blocks, output_subtype
from sepkit.errors import AudioError, ModelError
from sepkit.inference.dry_mix import dry_share
from sepkit.inference.engine import InferenceSettings, model_runner, process_array, process_stream, resolve_device
from sepkit.inference.output_groups import pick_sources
from sepkit.inference.stream import AudioStream, can_stream, stream_signal
from sepkit.models.base import match_mixture_gain
from sepkit.pretrained import DEFAULT_ENHANCER, OUTPUT_RULES, ModelConfig, load_network

Waveform = Union[np.ndarray, torch.Tensor]
PathLike = Union[str, "os.PathLike[str]"]
READ_BLOCK_SECONDS = 10.0
MAX_CHANNELS = 64
# Exported models of other tasks, which training uses but sepkit.load refuses: what each one is.
NOT_PROCESSORS = {
    "snr": "a segmental SNR estimator, used by sepkit personalize --purify",
    "ssl": "a self-supervised speech encoder, the front end of ssl_masker and ssl_blstm models",
}


class SepkitModel:
    """A loaded enhancer or separator bound to a device and inference settings.

    Causal models that can step frame by frame (``sepkit.inference.stream``) process arrays and files
    as one stateful stream; the others go through the chunked overlap-add engine. ``net`` may also be a
    ready ``(B, L) -> (B, K, L)`` model function, such as an ONNX graph's (``sepkit.deploy.onnx_runtime``).
    """

    def __init__(
        self,
        net: nn.Module | Callable[[torch.Tensor], torch.Tensor],
        config: ModelConfig,
        settings: InferenceSettings | None = None,
    ):
        self.config = config
        self.settings = settings or InferenceSettings(**config.inference)
        self.device = resolve_device(self.settings.device)
        if isinstance(net, nn.Module):
            self.net: nn.Module | None = net.to(self.device).eval()
            self._run = model_runner(self.net, self.device, self.settings.half)
        else:
            self.net, self._run = None, net

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def n_src(self) -> int:
        return self.config.n_src

    def __repr__(self) -> str:
        return f"SepkitModel(name={self.name!r}, task={self.task!r}, sample_rate={self.sample_rate}, n_src={self.n_src}, device={self.device})"

    def with_outputs(self, outputs: list[int] | str | None) -> "SepkitModel":
        """This model with another choice of which network outputs are its sources; the network is shared.

        For networks with more outputs than sources (MixIT): ``outputs`` is a list of output indices (the
        sources, in that order), ``"loudest"`` (in every chunk the ``n_src`` outputs of most energy, ``n_src``
        kept), ``"balanced"`` (in every chunk the outputs summed in ``n_src`` groups of most alike energy), or
        ``None`` (every output is a source). The exported choice stays in ``config.source_outputs``.
        """
        total = getattr(self.net, "n_src", None)  # None for an ONNX graph: its output count is not known here
        if outputs is None:
            if total is None:
                raise ModelError(
                    f"{self.name or 'model'}: every output of an ONNX graph needs the PyTorch model "
                    f"(load it with backend='torch')"
                )
            n_src = int(total)
        elif outputs in OUTPUT_RULES:
            n_src = self.n_src
            if total is not None and n_src > int(total):
                raise ModelError(f"{self.name or 'model'}: {outputs!r} needs {n_src} sources from {total} outputs")
        elif isinstance(outputs, str):
            n_src = 0  # from_dict refuses it with the allowed values
        else:
            outputs = [int(k) for k in outputs]
            bad = [k for k in outputs if k < 0 or (total is not None and k >= total)]
            if bad or not outputs:
                raise ModelError(
                    f"{self.name or 'model'}: outputs {outputs} are not indices of its "
                    f"{total if total is not None else 'the'} outputs"
                )
            n_src = len(outputs)
        data = {**self.config.to_dict(), "source_outputs": outputs, "n_src": n_src}
        chosen = copy.copy(self)
        chosen.config = ModelConfig.from_dict(data, self.name or "model")
        return chosen

    @property
    def _streams(self) -> bool:
        """Whether arrays and files go through the frame-by-frame stream (causal models whose level needs no
        per-chunk gain) rather than chunks."""
        return can_stream(self.net) and not self.settings.match_gain

    def _model_fn(self, batch: torch.Tensor) -> torch.Tensor:
        """The network on one batch of chunks: a separator's outputs at the chunk's level and polarity, then its sources.

        A scale-invariant loss leaves a separator's level and polarity arbitrary (``separate-2spk``'s
        Conv-TasNet came out inverted and 3.5 dB low), so all its outputs get one least-squares gain that
        makes them sum closest to the chunk, before the sources are picked: their balance stays. An enhancer
        gets the same gain when its config asks for it (``inference.match_gain``: trained on SI-SDR alone),
        so that the output limiter never has to squash an output 20 dB over full scale.
        """
        est = self._run(batch)
        if (self.task == "separate" and est.shape[1] > 1) or self.settings.match_gain:
            est = match_mixture_gain(est, batch.to(est.dtype))
        return pick_sources(est, self.config.source_outputs, self.n_src)

    # -- arrays --------------------------------------------------------------------------
    def enhance(self, waveform: Waveform, sample_rate: int) -> Waveform:
        """Enhanced copy of ``waveform`` ((T,) or (C, T)), same type, shape and rate."""
        self._require("enhance")
        return self._process(waveform, sample_rate)[0]

    def separate(self, waveform: Waveform, sample_rate: int) -> Waveform:
        """Sources of ``waveform`` as ``(n_src, *waveform.shape)``, same type and rate."""
        self._require("separate")
        return self._process(waveform, sample_rate)

    def stream(self, sample_rate: int, channels: int = 1, limiter_lookahead_ms: float = 5.0) -> AudioStream:
        """A real-time processor for a causal enhancer: ``.process(block)`` returns what is ready, ``.flush()`` the rest.

        Blocks are ``(T,)`` or ``(channels, T)`` numpy arrays of any length at ``sample_rate``; output sample i
        answers input sample i, ``.latency_ms`` is the algorithmic latency (window, resampling, limiter look-ahead).
        ``limiter_lookahead_ms=0`` saves the limiter's 5 ms for live use: its gain then drops at once on a peak
        that would pass full scale, instead of ramping down ahead of it (offline processing keeps the 5 ms).
        """
        if self.net is None:
            raise ModelError(
                f"{self.name or 'model'}: streaming steps the PyTorch model frame by frame; an ONNX graph "
                f"processes whole chunks (load it without backend='onnx')"
            )
        if self.settings.match_gain:
            raise ModelError(
                f"{self.name or 'model'}: its output level comes from one gain per chunk (inference.match_gain), "
                f"which a stream has no chunk for: process whole signals with enhance() instead"
            )
        stream = AudioStream(
            self.net,
            self.sample_rate,
            sample_rate,
            channels,
            self.device,
            self.name or "model",
            limiter_lookahead_ms,
            self.settings.attenuation_limit_db,
        )
        self._require("enhance")
        return stream

    def _outputs(
        self,
        blocks: Iterable[np.ndarray | torch.Tensor],
        n_frames: int,
        sample_rate: int,
        channels: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[torch.Tensor]:
        """``(K, C, n)`` output blocks for ``(C, n)`` input blocks: a stream for causal models, chunks for the rest."""
        if not self._streams:
            yield from process_stream(
                blocks, n_frames, sample_rate, self._model_fn, self.sample_rate, self.settings, on_progress
            )
            return
        for out in stream_signal(self.stream(sample_rate, channels), blocks, on_progress):
            yield torch.from_numpy(out)[None]

    def _process(self, waveform: Waveform, sample_rate: int) -> Waveform:
        audio, was_numpy, was_1d, dtype = _as_audio(waveform, sample_rate)
        if self._streams:
            block = int(READ_BLOCK_SECONDS * sample_rate)
            blocks = (audio[..., i : i + block].numpy() for i in range(0, audio.shape[-1], block))
            out = torch.cat(list(self._outputs(blocks, audio.shape[-1], int(sample_rate), audio.shape[0])), dim=-1)
        else:
            out = process_array(audio, int(sample_rate), self._model_fn, self.sample_rate, self.settings)
        if was_1d:
            out = out[:, 0]
        if was_numpy:
            return out.numpy().astype(dtype if np.issubdtype(dtype, np.floating) else np.float32)
        return out.to(dtype)

    # -- files ---------------------------------------------------------------------------
    def enhance_file(
        self,
        src: PathLike,
        dst: PathLike,
        force: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Enhance one file into ``dst`` (same rate, channels, length and sample format when possible)."""
        self._require("enhance")
        return self._process_file(src, [Path(dst)], force, on_progress)[0]

    def separate_file(
        self,
        src: PathLike,
        out_dir: PathLike,
        force: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[Path]:
        """Separate one file into ``out_dir/<stem>_s1.wav``, ``..._s2.wav``, ..."""
        self._require("separate")
        stem = Path(src).stem
        dsts = [Path(out_dir) / f"{stem}_s{k + 1}.wav" for k in range(self.n_src)]
        return self._process_file(src, dsts, force, on_progress)

    def _process_file(
        self,
        src: PathLike,
        dsts: list[Path],
        force: bool,
        on_progress: Callable[[int, int], None] | None,
    ) -> list[Path]:
        info = audio_info(src)
        for dst in dsts:
            check_output(dst, [info.path], force)
        writers = [AtomicAudioWriter(d, info.sample_rate, info.channels, output_subtype(d, info.subtype)) for d in dsts]
        try:
            blocks = iter_blocks(info, int(READ_BLOCK_SECONDS * info.sample_rate))
            progress = (lambda n: on_progress(n, info.frames)) if on_progress else None
            for out in self._outputs(blocks, info.frames, info.sample_rate, info.channels, progress):
                if out.shape[0] != len(writers):
                    raise ModelError(
                        f"{self.name or 'model'}: produced {out.shape[0]} outputs, config says {len(writers)}"
                    )
                for k, writer in enumerate(writers):
                    writer.write(out[k].numpy())
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        return [w.commit() for w in writers]

    def _require(self, task: str) -> None:
        if self.task != task:
            other = "separate" if task == "enhance" else "enhance"
            raise ModelError(
                f"model {self.name or ''!s} is a {self.task} model: use {other}, or pick a {task} model with --model"
            )


def _as_audio(waveform: Waveform, sample_rate: int) -> tuple[torch.Tensor, bool, bool, object]:
    """Validate an array and turn it into float32 ``(C, T)``; remember how to give it back."""
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    was_numpy = isinstance(waveform, np.ndarray)
    if not was_numpy and not isinstance(waveform, torch.Tensor):
        raise AudioError(f"waveform must be a numpy array or torch tensor, got {type(waveform).__name__}")
    dtype = waveform.dtype
    x = torch.from_numpy(np.asarray(waveform)) if was_numpy else waveform.detach().cpu()
    if not torch.is_floating_point(x):
        scale = float(torch.iinfo(x.dtype).max) + 1.0 if x.dtype != torch.bool else 1.0
        x = x.to(torch.float32) / scale
    x = x.to(torch.float32)
    if x.dim() not in (1, 2):
        raise AudioError(f"waveform must be (time,) or (channels, time), got shape {tuple(x.shape)}")
    was_1d = x.dim() == 1
    if was_1d:
        x = x[None]
    if x.shape[0] > MAX_CHANNELS and x.shape[1] <= MAX_CHANNELS:
        raise AudioError(f"waveform shape {tuple(x.shape)} looks like (time, channels): pass (channels, time)")
    if x.shape[-1] == 0:
        raise AudioError("waveform is empty (zero samples)")
    if not torch.isfinite(x).all():
        raise AudioError("waveform holds NaN or Inf samples")
    return x.contiguous(), was_numpy, was_1d, dtype


def load(
    name_or_dir: PathLike = DEFAULT_ENHANCER,
    device: str = "auto",
    half: bool = False,
    chunk_seconds: float | None = None,
    overlap_seconds: float | None = None,
    batch_size: int | None = None,
    backend: str = "torch",
    arch_args: dict[str, Any] | None = None,
    attenuation_limit_db: float | None = None,
) -> SepkitModel:
    """Load a shipped model by name, or any exported model directory, ready for inference.

    ``attenuation_limit_db`` (enhancers) lowers the noise by at most that many dB: that share of the input,
    ``10 ** (-dB / 20)``, is mixed back into the output, sample-aligned (``sepkit.inference.dry_mix``).

    ``backend="onnx"`` runs the folder's ``model.onnx`` (``sepkit export ... --format onnx``) with onnxruntime
    on the CPU, through the same engine. ``arch_args`` replace architecture arguments of ``config.json`` for
    this load, e.g. ``{"smooth_bins": 15, "smooth_frames": 6}`` for a ``fast_enhancer``'s gain smoothing
    (options without weights); the weights must still fit (a ``ModelError`` says which do not).
    """
    if arch_args and backend != "torch":
        raise ModelError(f"arch_args rebuild the PyTorch network; an {backend} graph is fixed (use backend='torch')")
    if backend == "onnx":
        from sepkit.deploy.onnx_runtime import load_onnx

        if device not in ("auto", "cpu"):
            raise ModelError(f"the onnx backend runs on the CPU (onnxruntime), not {device!r}: use --device cpu")
        net, config = load_onnx(name_or_dir)
        device, half = "cpu", False
    elif backend == "torch":
        net, config = load_network(name_or_dir, arch_args)
    else:
        raise ModelError(f"unknown backend {backend!r} (use torch or onnx)")
    if config.task not in ("enhance", "separate"):
        what = NOT_PROCESSORS.get(config.task, "it does not process audio")
        raise ModelError(
            f"{name_or_dir}: a {config.task} model ({what}), not an enhancer or separator: "
            f"pick an enhance or separate model"
        )
    if not config.name:
        config.name = Path(str(name_or_dir)).name
    base = dict(config.inference)
    for key, value in (
        ("chunk_seconds", chunk_seconds),
        ("overlap_seconds", overlap_seconds),
        ("batch_size", batch_size),
    ):
        if value is not None:
            base[key] = value
    known = InferenceSettings.__dataclass_fields__
    if attenuation_limit_db is not None:
        dry_share(attenuation_limit_db)  # a bad value fails here, in one line
        if config.task != "enhance":
            raise ModelError(f"{config.name}: an attenuation limit is for enhancers, not a {config.task} model")
        base["attenuation_limit_db"] = float(attenuation_limit_db)
    settings = InferenceSettings(
        **{k: v for k, v in base.items() if k in known and k not in ("device", "half")}, device=device, half=half
    )
    return SepkitModel(net, config, settings)

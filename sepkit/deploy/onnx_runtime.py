"""The onnxruntime backend: an exported ``model.onnx`` as the engine's ``(B, L) -> (B, K, L)`` model function.

``sepkit.load(dir, backend="onnx")`` and ``sepkit enhance/separate --backend onnx`` use it; chunking,
resampling, channels and limiting stay the engine's, so an ONNX model handles any length, rate and channel
count as the PyTorch one does. It runs on the CPU with as many threads as torch is set to use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from sepkit.errors import ModelError
from sepkit.inference.engine import MIN_MODEL_SAMPLES
from sepkit.models.base import fit_length
from sepkit.pretrained import ONNX_FILE, ModelConfig, read_config, resolve_model_dir

ModelFn = Callable[[torch.Tensor], torch.Tensor]


def onnx_session(path: str | os.PathLike[str], threads: int | None = None) -> Any:
    """An onnxruntime CPU session for ``path`` with ``threads`` intra-op threads (default: torch's)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for unreadable graphs
        raise ModelError(f"{path}: onnxruntime cannot load it ({' '.join(str(exc).split())[:200]})") from exc


def onnx_runner(path: str | os.PathLike[str], threads: int | None = None) -> ModelFn:
    """``(B, L)`` float32 -> ``(B, K, L)`` through the graph at ``path``; short inputs are zero-padded as the engine does."""
    session = onnx_session(path, threads)

    def run(batch: torch.Tensor) -> torch.Tensor:
        x = batch.detach().to("cpu", torch.float32)
        if x.shape[-1] < MIN_MODEL_SAMPLES:
            x = F.pad(x, (0, MIN_MODEL_SAMPLES - x.shape[-1]))
        est = torch.from_numpy(session.run(["est"], {"wav": x.contiguous().numpy()})[0])
        return fit_length(est, batch.shape[-1])

    return run


def load_onnx(name_or_dir: str | os.PathLike[str], threads: int | None = None) -> tuple[ModelFn, ModelConfig]:
    """The model function and config of an ONNX export folder (``sepkit export ... --format onnx``)."""
    folder = resolve_model_dir(name_or_dir)
    path = Path(folder) / ONNX_FILE
    if not path.is_file():
        raise ModelError(
            f"{folder}: no {ONNX_FILE}: export one with sepkit export {name_or_dir} OUT_DIR --format onnx "
            f"and give OUT_DIR as --model"
        )
    return onnx_runner(path, threads), read_config(folder)

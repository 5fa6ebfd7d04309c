"""``sepkit export SOURCE OUT_DIR --format onnx``: an enhancer or separator as ``model.onnx`` + ``config.json`` + ``CARD.md``.

The graph takes ``wav`` ``(batch, time)`` float32 at the model's rate and returns ``est`` ``(batch, n_src, time)``;
batch and time are dynamic, the STFT is inside as convolutions (``graphs``), so no pre- or post-step is
needed. It is written with PyTorch's TorchScript-based exporter, which keeps recurrent layers as ONNX
``GRU``/``LSTM`` operators over a sequence of any length (the newer exporter unrolls them to the example's
length). Before the folder takes its place, onnxruntime runs the graph on a probe signal and its output is
compared with the PyTorch model's; the largest difference is recorded in ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from sepkit.atomic import staged_folder
from sepkit.audio.io import same_file
from sepkit.deploy.graphs import graph_for
from sepkit.deploy.onnx_runtime import onnx_session
from sepkit.errors import ConfigError, ModelError, OutputError
from sepkit.pretrained import CARD_FILE, CONFIG_FILE, ONNX_FILE, ModelConfig, load_network, resolve_model_dir

OPSET = 17
TOLERANCE = 1e-3  # largest absolute difference from PyTorch accepted on the probe (float32 runs differ by ~1e-6)
PROBE_SECONDS = 2.3  # not the export example's length: the probe checks that the time axis is dynamic


def model_source(source: str, inference_only: bool | None = None) -> tuple[nn.Module, ModelConfig, str, Path | None]:
    """The network, config and card of a checkpoint file, a model folder or a shipped name (and the folder, if one)."""
    path = Path(source)
    if path.is_file():
        from sepkit.train.export import checkpoint_model

        net, config, card, _ = checkpoint_model(path, inference_only=inference_only)
        return net.eval(), config, card, None
    folder = resolve_model_dir(source)
    net, config = load_network(folder)
    card = folder / CARD_FILE
    return net, config, card.read_text() if card.is_file() else "", folder


def export_onnx(
    source: str,
    out_dir: str | Path,
    force: bool = False,
    inference_only: bool | None = None,
    name: str | None = None,
) -> Path:
    """Write ``out_dir`` with the ONNX graph of ``source`` (named ``name`` if given); an existing folder is replaced
    only with ``force``."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise ConfigError('ONNX export needs the onnx package: pip install "sepkit[export]"') from exc
    net, config, card, folder = model_source(source, inference_only)
    if name is not None:
        config = dataclasses.replace(config, name=name)
    if config.task not in ("enhance", "separate"):
        raise ModelError(f"{source}: a {config.task} model; only enhancers and separators export to ONNX")
    out = Path(out_dir)
    if folder is not None and out.exists() and same_file(folder, out):
        raise OutputError(f"{out}: is the model folder being exported; refusing to replace an input")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise OutputError(f"{out}: already exists (use --force to replace it)")
    graph = graph_for(net.cpu().eval()).eval()
    with staged_folder(out) as stage:
        _export_graph(graph, stage / ONNX_FILE, config)
        diff = parity(stage / ONNX_FILE, net, config.sample_rate)
        if not diff <= TOLERANCE:
            raise ModelError(
                f"{source}: the ONNX graph differs from the PyTorch model by up to {diff:.2g} on a probe "
                f"signal (tolerance {TOLERANCE:g}); not exported"
            )
        entry = {
            "file": ONNX_FILE,
            "input": "wav (batch, time) float32 at sample_rate",
            "output": "est (batch, n_src, time)",
            "opset": OPSET,
            "max_abs_diff_vs_torch": float(f"{diff:.3g}"),
        }
        (stage / CONFIG_FILE).write_text(json.dumps({**config.to_dict(), "onnx": entry}, indent=2) + "\n")
        (stage / CARD_FILE).write_text(card + _card_note(source, diff))
    return out


def _export_graph(graph: nn.Module, path: Path, config: ModelConfig) -> None:
    example = 0.1 * torch.randn(1, config.sample_rate, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings
            torch.onnx.export(
                graph,
                (example,),
                str(path),
                dynamo=False,
                input_names=["wav"],
                output_names=["est"],
                dynamic_axes={"wav": {0: "batch", 1: "time"}, "est": {0: "batch", 2: "time"}},
                opset_version=OPSET,
            )
    except Exception as exc:  # the exporter raises many types for operators it cannot express
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelError(f"{config.arch} cannot be exported to ONNX ({reason})") from exc


def parity(onnx_path: Path, net: nn.Module, sample_rate: int) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on a two-item probe batch."""
    gen = torch.Generator().manual_seed(1)
    n = int(PROBE_SECONDS * sample_rate)
    envelope = torch.sin(torch.linspace(0, 12.0, n)).abs()  # bursts and pauses, like speech in noise
    probe = 0.1 * torch.randn(2, n, generator=gen) * envelope + 0.01 * torch.randn(2, n, generator=gen)
    with torch.no_grad():
        expected = net(probe).numpy()
    got = onnx_session(onnx_path).run(["est"], {"wav": probe.numpy()})[0]
    return float(np.abs(got - expected).max())


def _card_note(source: str, diff: float) -> str:
    return (
        f"\n## ONNX\n\n`model.onnx` was exported from `{Path(source).name}` with `sepkit export {Path(source).name} "
        f"OUT_DIR --format onnx` (opset {OPSET}). Input `wav`: (batch, time) float32 at the model's sample rate; "
        f"output `est`: (batch, n_src, time); the STFT is inside the graph. onnxruntime matched PyTorch to "
        f"{diff:.2g} (largest absolute difference) on a probe signal. Run it with `sepkit enhance/separate "
        f"--model DIR --backend onnx`, which handles any length, rate and channel count.\n"
    )

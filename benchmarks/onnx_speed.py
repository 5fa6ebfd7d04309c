"""Real-time factor of the onnxruntime backend against the torch backend on one CPU thread, measured in the same run.

Each model is exported with ``sepkit export ... --format onnx`` into a temporary folder, then enhances or separates
the same recording (looped to ``--seconds``, at the model's rate) three ways: the torch backend as ``sepkit
enhance`` runs it (causal enhancers: one stateful stream), the torch backend through the chunked engine (the path
the ONNX backend takes, so the two differ only in the runtime), and ``--backend onnx``. RTF is CPU time over audio
duration (less moved by other jobs than the wall clock); the least of ``--repeats`` runs counts.

    OMP_NUM_THREADS=1 python benchmarks/onnx_speed.py
    OMP_NUM_THREADS=1 python benchmarks/onnx_speed.py --model DIR --arch filter_enhancer
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import sepkit
from sepkit.api import SepkitModel
from sepkit.deploy.onnx_export import export_onnx
from sepkit.inference import process_array
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model

from recordings import recording  # benchmarks/recordings.py, beside this script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ["enhance-default", "separate-2spk"]
DEFAULT_ARCHS = ["filter_enhancer", "stft_separator"]


def cpu_seconds(run: Callable[[], object], repeats: int) -> float:
    """The least CPU time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        run()
        best = min(best, time.process_time() - c0)
    return best


def as_users_run(model: SepkitModel, x: np.ndarray) -> Callable[[], object]:
    """``model.enhance`` or ``model.separate`` of the whole recording."""
    call = model.enhance if model.task == "enhance" else model.separate
    return lambda: call(x, model.sample_rate)


def chunked(model: SepkitModel, x: np.ndarray) -> Callable[[], object]:
    """The torch model through the chunked overlap-add engine, as the ONNX backend runs."""
    audio = torch.from_numpy(x)[None]
    return lambda: process_array(audio, model.sample_rate, model._model_fn, model.sample_rate, model.settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help=f"shipped name or model folder (repeatable; default {', '.join(DEFAULT_MODELS)})",
    )
    parser.add_argument(
        "--arch",
        action="append",
        default=None,
        help="an architecture with untrained weights and its "
        f"default arguments (repeatable; default {', '.join(DEFAULT_ARCHS)})",
    )
    parser.add_argument("--input", type=Path, default=REPO / "examples" / "noisy.wav")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = [(m, m) for m in (args.model or DEFAULT_MODELS)]
        for arch in args.arch if args.arch is not None else DEFAULT_ARCHS:
            net = build_model(arch)
            task = "enhance" if net.n_src == 1 else "separate"
            config = ModelConfig(arch=arch, args={}, sample_rate=net.sample_rate, task=task, n_src=net.n_src)
            models.append((f"{arch} (untrained)", str(export_model(net, Path(tmp) / arch, config))))
        for name, folder in models:
            onnx_dir = export_onnx(folder, Path(tmp) / f"{Path(name).name}-onnx".replace(" ", "_"))
            torch_model, onnx_model = sepkit.load(folder, device="cpu"), sepkit.load(onnx_dir, backend="onnx")
            x = recording(args.input, torch_model.sample_rate, args.seconds)
            times = {
                "torch": cpu_seconds(as_users_run(torch_model, x), args.repeats),
                "torch_chunked": cpu_seconds(chunked(torch_model, x), args.repeats),
                "onnx": cpu_seconds(as_users_run(onnx_model, x), args.repeats),
            }
            rows.append({"model": name, **{k: v / args.seconds for k, v in times.items()}})
            print(json.dumps(rows[-1]), flush=True)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"\none thread; RTF = CPU time / {args.seconds:g} s of {args.input.name}; least of {args.repeats} runs; "
        f"load average {load} on {os.cpu_count()} cores\n"
    )
    print(
        "| model | torch, as sepkit enhance/separate runs it | torch, chunked engine | onnxruntime (--backend onnx) "
        "| onnxruntime / torch chunked |"
    )
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['torch']:.4f} | {r['torch_chunked']:.4f} | {r['onnx']:.4f} "
            f"| {r['onnx'] / r['torch_chunked']:.2f}x |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

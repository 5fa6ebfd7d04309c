"""Training cost (CPU-s per audio-s) and inference RTF of separators on CPU, the shipped ones beside them.

Each measurement runs in a fresh process with ``--threads`` torch threads. Training: AdamW steps on
batches of random 2-source mixtures with uPIT on capped SI-SDR, as ``recipes/pit/stft.yaml``
trains; after two warm-up steps, CPU time (``process_time``) and wall time are averaged over
``--steps`` steps and divided by the audio in a batch. Inference: ``sepkit.load(...).separate_file``
(the engine ``sepkit separate`` uses) on a ``--seconds`` long file; RTF = wall time / audio time,
and CPU time / audio time beside it (less sensitive to other jobs on the machine). Untrained
weights: speed does not depend on them. The shipped MixIT model (4 outputs summed in 2 balanced groups)
gets an inference row only: its training step is MixIT's, not uPIT's.

    python benchmarks/separator_speed.py --threads 1
    python benchmarks/separator_speed.py --only stft_separator --steps 10 --json runs/bench/sep.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "pretrained"
CONV_TASNET = REPO / "recipes" / "pit" / "default2spk.yaml"  # the separate-2spk the STFT separator replaced


def systems() -> list[tuple[str, str, dict[str, Any], Any]]:
    """``(label, arch, args, source_outputs)`` of each separator; the shipped ones' come from their config.json.

    ``source_outputs`` other than ``None`` marks a MixIT model: inference only.
    """
    from sepkit.train.config import load_config

    pit = json.loads((SHIPPED / "separate-2spk" / "config.json").read_text())
    tasnet = load_config(CONV_TASNET)
    mixit = json.loads((SHIPPED / "separate-mixit" / "config.json").read_text())
    return [
        ("stft_separator 512/128 (3x256 BLSTM, complex mask)", "stft_separator", {"n_fft": 512, "hop": 128}, None),
        ("stft_separator 512/256 (3x256 BLSTM, complex mask)", "stft_separator", {"n_fft": 512, "hop": 256}, None),
        (
            "stft_separator 512/128 (3x384 BLSTM, complex mask; recipes/pit/filled_voices_wide.yaml)",
            "stft_separator",
            {"n_fft": 512, "hop": 128, "hidden": 384},
            None,
        ),
        (
            f"separate-2spk (shipped {pit['arch']} {pit['args'].get('n_fft')}/{pit['args'].get('hop')})",
            pit["arch"],
            pit["args"],
            None,
        ),
        (
            "Conv-TasNet 2 ms / 1 ms (separate-2spk until 2026-12-04)",
            tasnet["model"]["arch"],
            tasnet["model"]["args"] | {"sample_rate": tasnet["sample_rate"]},
            None,
        ),
        (
            f"separate-mixit (shipped {mixit['arch']}, 4 outputs, {mixit['source_outputs']} groups)",
            mixit["arch"],
            mixit["args"],
            mixit["source_outputs"],
        ),
    ]


def train_cost(arch: str, args: dict[str, Any], batch: int, seconds: float, steps: int) -> dict[str, float]:
    """CPU and wall seconds per audio second of AdamW training steps with uPIT on capped SI-SDR."""
    import functools

    import torch

    from sepkit.losses import pairwise_neg_si_sdr, pit_loss
    from sepkit.models import build_model

    torch.manual_seed(0)
    net = build_model(arch, **args).train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3)
    criterion = functools.partial(pairwise_neg_si_sdr, sdr_max=30.0)
    n = int(seconds * net.sample_rate)
    sources = 0.1 * torch.randn(batch, 2, n)
    mixture = sources.sum(1)

    def step() -> None:
        loss, _ = pit_loss(net(mixture), sources, criterion)
        optimiser.zero_grad()
        loss.mean().backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()

    for _ in range(2):
        step()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    audio = batch * seconds * steps
    return {
        "train_cpu_per_audio_s": cpu / audio,
        "train_wall_per_audio_s": wall / audio,
        "step_wall_s": wall / steps,
        "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
    }


def inference_rtf(arch: str, args: dict[str, Any], seconds: float, outputs: Any = None) -> dict[str, float]:
    """Wall and CPU time per audio second of ``separate_file`` on a mono 16 kHz file."""
    import numpy as np
    import soundfile as sf

    import sepkit
    from sepkit.models import build_model
    from sepkit.pretrained import ModelConfig, export_model

    net = build_model(arch, **args)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        export_model(
            net,
            model_dir,
            ModelConfig(
                arch=arch,
                args=args,
                sample_rate=net.sample_rate,
                task="separate",
                n_src=net.n_src if outputs is None else 2,
                source_outputs=outputs,
            ),
        )
        rng = np.random.default_rng(0)
        t = np.arange(int(seconds * 16000)) / 16000
        mix = 0.1 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
        src = Path(tmp) / "mix.wav"
        sf.write(src, mix.astype(np.float32), 16000, subtype="PCM_16")
        model = sepkit.load(model_dir, device="cpu")
        cpu, wall = time.process_time(), time.perf_counter()
        model.separate_file(src, Path(tmp) / "out")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"rtf": wall / seconds, "cpu_per_audio_s": cpu / seconds}


def child(spec: dict[str, Any]) -> None:
    """Run one measurement (in its own process) and print it as JSON."""
    import torch

    torch.set_num_threads(spec["threads"])
    if spec["kind"] == "train":
        out = train_cost(spec["arch"], spec["args"], spec["batch"], spec["seconds"], spec["steps"])
    else:
        out = inference_rtf(spec["arch"], spec["args"], spec["seconds"], spec.get("outputs"))
    print(json.dumps(out))


def measure(spec: dict[str, Any]) -> dict[str, float]:
    """``child(spec)`` in a fresh process with ``OMP_NUM_THREADS`` set."""
    env = os.environ | {"OMP_NUM_THREADS": str(spec["threads"])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="training batch (mixtures)")
    parser.add_argument("--segment", type=float, default=3.0, help="training segment in seconds")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per system")
    parser.add_argument("--seconds", type=float, default=60.0, help="inference input length")
    parser.add_argument("--only", default="", help="measure only systems whose label contains this")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    rows = []
    for label, arch, model_args, outputs in systems():
        if args.only not in label:
            continue
        base = {"arch": arch, "args": model_args, "threads": args.threads}
        row: dict[str, Any] = {"system": label}
        if outputs is None:
            row |= measure(base | {"kind": "train", "batch": args.batch, "seconds": args.segment, "steps": args.steps})
        row |= measure(base | {"kind": "infer", "seconds": args.seconds, "outputs": outputs})
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\nthreads: {args.threads}; training batch {args.batch} x {args.segment} s; inference on {args.seconds} s; "
        f"1-min load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print("| system | params | train CPU-s / audio-s | train step (wall) | inference RTF | inference CPU-s / audio-s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        train = (
            f"{r['params_m']:.2f} M | {r['train_cpu_per_audio_s']:.3f} | {r['step_wall_s']:.2f} s"
            if "params_m" in r
            else "- | - | -"
        )
        print(f"| {r['system']} | {train} | {r['rtf']:.4f} | {r['cpu_per_audio_s']:.4f} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

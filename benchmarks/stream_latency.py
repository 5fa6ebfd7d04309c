"""Real-time streaming on one CPU thread: algorithmic latency and per-block processing time of sepkit's stream
against RNNoise and DeepFilterNet3 frames, measured in the same run.

sepkit models run ``model.stream(rate).process(block)`` on 10 ms blocks of a real recording (looped), at the model's
rate and at 48 kHz (where the stream resamples in and out); the peers run their own 10 ms frames at 48 kHz through
their C libraries (``sepkit[peers]``, the per-frame calls ``sepkit evaluate`` uses). Latency is the longest a sample
waits between arriving and leaving: for sepkit the stream's ``latency_ms`` (window, resampling, the limiter's
5 ms look-ahead, or none with ``--low-latency``; ``tests/test_stream.py`` measures it sample by sample), for a
peer its measured output delay plus one frame of input buffering. Processing time is the thread's CPU time per block (what an idle core would take;
hardly moved by other jobs on the machine), with the wall clock beside it.

    OMP_NUM_THREADS=1 python benchmarks/stream_latency.py                          # the shipped enhance-default
    OMP_NUM_THREADS=1 python benchmarks/stream_latency.py --model DIR --arch filter_enhancer   # a folder; untrained
"""

from __future__ import annotations

import os
import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import sepkit
from sepkit.evaluation.peers import PEER_RATE, DeepFilterNet3, RNNoise
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model

from recordings import recording  # benchmarks/recordings.py, beside this script

REPO = Path(__file__).resolve().parent.parent
WARM_BLOCKS = 50  # the first half second is not timed: allocations and caches settle


def time_blocks(step: Callable[[np.ndarray], object], x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """CPU and wall-clock milliseconds each ``step(block)`` took, over ``x`` cut into blocks, the warm-up left out."""
    cpu, wall = [], []
    for start in range(0, x.size - block + 1, block):
        c0, t0 = time.thread_time(), time.perf_counter()
        step(x[start : start + block])
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return 1000.0 * np.array(cpu[WARM_BLOCKS:]), 1000.0 * np.array(wall[WARM_BLOCKS:])


def sepkit_rows(name: str, folder: str, x_at: Callable[[int], np.ndarray], block_ms: float) -> list[dict]:
    model = sepkit.load(folder, device="cpu")
    rows = []
    window = 1000.0 * model.net.n_fft / model.sample_rate
    ahead = 1000.0 * (model.net.latency_samples - model.net.n_fft) / model.sample_rate  # the model's look-ahead
    parts = f"window {window:g} ms" + (f" + look-ahead {ahead:g} ms" if ahead else "")
    for rate in sorted({model.sample_rate, PEER_RATE}):
        for lookahead_ms, flag in ((5.0, ""), (0.0, ", --low-latency")):
            stream = model.stream(rate, limiter_lookahead_ms=lookahead_ms)
            block = round(rate * block_ms / 1000)
            rows.append(
                row(
                    f"{name} (sepkit stream{flag})",
                    rate,
                    block,
                    stream.latency_ms,
                    *time_blocks(stream.process, x_at(rate), block),
                    f"{parts} + limiter {lookahead_ms:g} ms",
                )
            )
    return rows


def peer_row(peer: RNNoise | DeepFilterNet3, x48: np.ndarray, scale: float) -> dict:
    process, frame, close = peer.frames()
    out = np.empty(frame, np.float32)
    try:
        cpu, wall = time_blocks(lambda blk: process(np.ascontiguousarray(blk), out), x48 * scale, frame)
    finally:
        close()
    latency = 1000.0 * (peer.delay + frame) / PEER_RATE
    return row(
        peer.name, PEER_RATE, frame, latency, cpu, wall, f"delay {1000 * peer.delay / PEER_RATE:g} ms + one frame"
    )


def row(system: str, rate: int, block: int, latency_ms: float, cpu: np.ndarray, wall: np.ndarray, note: str) -> dict:
    return {
        "system": system,
        "rate": rate,
        "block_ms": 1000.0 * block / rate,
        "latency_ms": round(latency_ms, 2),
        "note": note,
        "blocks": int(cpu.size),
        "p50_ms": float(np.percentile(cpu, 50)),
        "p99_ms": float(np.percentile(cpu, 99)),
        "max_ms": float(cpu.max()),
        "wall_p50_ms": float(np.percentile(wall, 50)),
        "wall_p99_ms": float(np.percentile(wall, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="shipped name or model folder (repeatable; default enhance-default)",
    )
    parser.add_argument(
        "--arch",
        action="append",
        default=[],
        help="a causal architecture with untrained weights "
        "and its default arguments (repeatable; speed and latency only)",
    )
    parser.add_argument("--input", type=Path, default=REPO / "examples" / "noisy.wav", help="recording to stream")
    parser.add_argument("--seconds", type=float, default=30.0, help="stream length (the recording is looped)")
    parser.add_argument("--block-ms", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache: dict[int, np.ndarray] = {}

    def x_at(rate: int) -> np.ndarray:
        if rate not in cache:
            cache[rate] = recording(args.input, rate, args.seconds)
        return cache[rate]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = [(m, m) for m in (args.model or ["enhance-default"])]
        for arch in args.arch:
            net = build_model(arch)
            config = ModelConfig(arch=arch, args={}, sample_rate=net.sample_rate, task="enhance", n_src=1)
            models.append((f"{arch} (untrained)", str(export_model(net, Path(tmp) / arch, config))))
        for name, folder in models:
            rows += sepkit_rows(name, folder, x_at, args.block_ms)
    rows.append(peer_row(RNNoise(), x_at(PEER_RATE), RNNoise.scale))
    rows.append(peer_row(DeepFilterNet3(), x_at(PEER_RATE), 1.0))
    dfn = next(r for r in rows if r["system"] == "deepfilternet3")["p50_ms"]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"\none thread; {args.seconds:g} s of {args.input.name}, {args.block_ms:g} ms blocks, the first "
        f"{WARM_BLOCKS} untimed; load average {load} on {os.cpu_count()} cores\n"
    )
    print(
        "| system | rate | block | algorithmic latency | CPU per block p50 | p99 | max | p99 / block "
        "| p50 / DeepFilterNet3 p50 | wall p50 | wall p99 |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['system']} | {r['rate'] / 1000:g} kHz | {r['block_ms']:g} ms | {r['latency_ms']:g} ms "
            f"({r['note']}) | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['max_ms']:.2f} ms "
            f"| {r['p99_ms'] / r['block_ms']:.2f} | {r['p50_ms'] / dfn:.2f}x | {r['wall_p50_ms']:.2f} ms "
            f"| {r['wall_p99_ms']:.2f} ms |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

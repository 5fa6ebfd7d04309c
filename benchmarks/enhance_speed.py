"""Real-time factor and peak memory of ``sepkit enhance`` on CPU for 10 s, 10 min and 60 min inputs.

Each run is a fresh process, so its peak resident memory (ru_maxrss) is its own. The RTF is the
process's CPU time over the audio's duration (on one thread, what the wall clock shows on an idle
core; unlike the wall clock, hardly moved by other jobs on the machine); wall-clock RTF is printed
beside it. The baselines are
measured in the same run: noisereduce (spectral gating), and the published enhancers RNNoise and
DeepFilterNet3 as ``sepkit evaluate`` runs them (48 kHz, resampled in and back; ``sepkit[peers]``).
Any other baseline name is a sepkit model (shipped name or folder), run as ``--model`` is: a candidate
timed beside the model it would replace, in one run.

    python benchmarks/enhance_speed.py --model enhance-default --threads 1
    python benchmarks/enhance_speed.py --model runs/stage11 --baselines enhance-default,rnnoise,deepfilternet3
    python benchmarks/enhance_speed.py --arch fast_enhancer      # untrained weights: speed only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
PEERS = ("noisereduce", "rnnoise", "deepfilternet3")  # the baselines that are not sepkit models

CHILD = r"""
import json, os, resource, sys, time
threads = int(sys.argv[1]); kind = sys.argv[2]; src = sys.argv[3]; dst = sys.argv[4]; model = sys.argv[5]
os.environ["OMP_NUM_THREADS"] = str(threads)
import torch
torch.set_num_threads(threads)
if kind == "sepkit":
    import sepkit
    if model.startswith("arch:"):
        import tempfile
        from sepkit.models import build_model
        from sepkit.pretrained import ModelConfig, export_model
        arch = model[5:]
        net = build_model(arch)
        d = tempfile.mkdtemp()
        export_model(net, d, ModelConfig(arch=arch, args={}, sample_rate=net.sample_rate, task="enhance", n_src=1))
        model = d
    m = sepkit.load(model, device="cpu")
    t0, c0 = time.perf_counter(), time.process_time()
    m.enhance_file(src, dst)
elif kind in ("rnnoise", "deepfilternet3"):
    from sepkit.audio.io import read_audio, write_audio
    from sepkit.evaluation.baselines import baseline_enhancer
    run = baseline_enhancer(kind)  # its library loaded before the clock starts, as sepkit.load is
    t0, c0 = time.perf_counter(), time.process_time()
    x, sr = read_audio(src)
    write_audio(dst, run(x, sr), sr)
else:
    import numpy as np, soundfile as sf, noisereduce as nr
    t0, c0 = time.perf_counter(), time.process_time()
    x, sr = sf.read(src, dtype="float32")
    y = nr.reduce_noise(y=x, sr=sr, n_jobs=1)
    sf.write(dst, y, sr)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_input(path: Path, seconds: int) -> None:
    """Noisy harmonic test signal, written in blocks so the benchmark itself stays small."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for start in range(0, seconds, 10):
            t = (np.arange(10 * RATE) + start * RATE) / RATE
            x = 0.2 * np.sin(2 * np.pi * 180 * t) * (
                0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
            ) + 0.05 * rng.standard_normal(t.size)
            f.write(x[: min(10, seconds - start) * RATE].astype(np.float32))


def run_child(kind: str, src: Path, dst: Path, threads: int, model: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), kind, str(src), str(dst), model],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enhance-default", help="shipped name or model folder")
    parser.add_argument("--arch", default=None, help="time a registered architecture with untrained weights instead")
    parser.add_argument("--durations", default="10,600,3600", help="input lengths in seconds")
    parser.add_argument(
        "--baseline-max", type=int, default=600, help="longest input given to the baselines (they load whole files)"
    )
    parser.add_argument(
        "--baselines",
        default=",".join(PEERS),
        help="comma-separated: noisereduce, rnnoise, deepfilternet3, or sepkit models (shipped names or folders)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per system and input, taken in turns; the one with least CPU time counts",
    )
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    model = f"arch:{args.arch}" if args.arch else args.model
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in [int(s) for s in args.durations.split(",")]:
            src = Path(tmp) / f"in_{seconds}.wav"
            make_input(src, seconds)
            # (label, child kind, model): sepkit models are timed at every length, the peers up to --baseline-max
            systems = [("sepkit", "sepkit", model)]
            systems += [(b, "sepkit", b) for b in baselines if b not in PEERS]
            systems += [(b, b, model) for b in baselines if b in PEERS and seconds <= args.baseline_max]
            kinds = [label for label, _, _ in systems]
            best: dict[str, dict[str, float]] = {}
            for repeat in range(args.repeats):
                for n, (kind, child_kind, child_model) in enumerate(systems):
                    dst = Path(tmp) / f"out{n}_{seconds}.wav"
                    r = run_child(child_kind, src, dst, args.threads, child_model)
                    dst.unlink()
                    row = {
                        "input_s": seconds,
                        "system": kind,
                        "rtf": r["cpu_seconds"] / seconds,
                        "wall_rtf": r["seconds"] / seconds,
                        "peak_mb": r["peak_mb"],
                    }
                    print(json.dumps({**row, "repeat": repeat}), flush=True)
                    if kind not in best or row["rtf"] < best[kind]["rtf"]:
                        best[kind] = {**row, "peak_mb": max(row["peak_mb"], best.get(kind, row)["peak_mb"])}
                    else:
                        best[kind]["peak_mb"] = max(best[kind]["peak_mb"], row["peak_mb"])
            rows.extend(best[k] for k in kinds)
            src.unlink()
    print(
        f"\nmodel: {model}; threads: {args.threads}; least CPU time of {args.repeats} runs; CPU: {os.cpu_count()} cores visible\n"
    )
    print("| input | system | RTF (CPU time) | RTF (wall clock) | peak RSS | CPU time / sepkit CPU time |")
    print("|---|---|---:|---:|---:|---:|")
    ours = {r["input_s"]: r["rtf"] for r in rows if r["system"] == "sepkit"}
    for r in rows:
        name = model if r["system"] == "sepkit" else r["system"]
        print(
            f"| {r['input_s']} s | {name} | {r['rtf']:.4f} | {r['wall_rtf']:.4f} | {r['peak_mb']:.0f} MB "
            f"| {r['rtf'] / ours[r['input_s']]:.2f}x |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""Real-time factor and peak memory of ``sepkit enhance`` on CPU for 10 s, 10 min and 60 min inputs.

Each run is a fresh process, so its peak resident memory (ru_maxrss) is its own. noisereduce
(spectral gating, one thread) is measured in the same run as the named baseline.

    python benchmarks/enhance_speed.py --model enhance-default --threads 1
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
    t0 = time.perf_counter()
    m.enhance_file(src, dst)
else:
    import numpy as np, soundfile as sf, noisereduce as nr
    t0 = time.perf_counter()
    x, sr = sf.read(src, dtype="float32")
    y = nr.reduce_noise(y=x, sr=sr, n_jobs=1)
    sf.write(dst, y, sr)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_input(path: Path, seconds: int) -> None:
    """Noisy harmonic test signal, written in blocks so the benchmark itself stays small."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for start in range(0, seconds, 10):
            t = (np.arange(10 * RATE) + start * RATE) / RATE
            x = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
            f.write(x[: min(10, seconds - start) * RATE].astype(np.float32))


def run_child(kind: str, src: Path, dst: Path, threads: int, model: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), kind, str(src), str(dst), model],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enhance-default", help="shipped name or model folder")
    parser.add_argument("--arch", default=None, help="time a registered architecture with untrained weights instead")
    parser.add_argument("--durations", default="10,600,3600", help="input lengths in seconds")
    parser.add_argument("--baseline-max", type=int, default=600, help="longest input given to noisereduce (it loads whole files)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    model = f"arch:{args.arch}" if args.arch else args.model
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in [int(s) for s in args.durations.split(",")]:
            src = Path(tmp) / f"in_{seconds}.wav"
            make_input(src, seconds)
            row = {"input_s": seconds}
            r = run_child("sepkit", src, Path(tmp) / f"out_{seconds}.wav", args.threads, model)
            row.update(sepkit_rtf=r["seconds"] / seconds, sepkit_peak_mb=r["peak_mb"])
            if seconds <= args.baseline_max:
                b = run_child("noisereduce", src, Path(tmp) / f"nr_{seconds}.wav", args.threads, model)
                row.update(noisereduce_rtf=b["seconds"] / seconds, noisereduce_peak_mb=b["peak_mb"])
            rows.append(row)
            src.unlink()
            print(json.dumps(row), flush=True)
    print(f"\nmodel: {model}; threads: {args.threads}; CPU: {os.cpu_count()} cores visible\n")
    print("| input | sepkit RTF | sepkit peak RSS | noisereduce RTF | noisereduce peak RSS | speed ratio (noisereduce time / sepkit time) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        nr_rtf = r.get("noisereduce_rtf")
        ratio = f"{nr_rtf / r['sepkit_rtf']:.2f}x" if nr_rtf else "-"
        nr_cols = f"{nr_rtf:.4f} | {r['noisereduce_peak_mb']:.0f} MB" if nr_rtf else "- | -"
        print(f"| {r['input_s']} s | {r['sepkit_rtf']:.4f} | {r['sepkit_peak_mb']:.0f} MB | {nr_cols} | {ratio} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

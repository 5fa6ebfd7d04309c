"""Time to rate speech files with DNSMOS: ``sepkit data rate``'s one-window scoring against the metric's procedure.

The baseline is DNSMOS as Microsoft's ``dnsmos_local.py`` (and speechmos, and ``sepkit score``)
apply it: a clip shorter than 9.01 s is doubled until it is long enough, then every 1 s hop is
scored and averaged. ``sepkit.data.quality.rate_file`` repeats a short clip to exactly one
window. Both run in this process on the same files; the script prints the time per file, the
speed-up and how far the scores differ (mean absolute difference, correlation).

    python benchmarks/rate_speed.py $SEPKIT_DATA/demo/manifests/speech.jsonl --files 200 --threads 1
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="a file manifest of speech (e.g. the demo corpus's speech.jsonl)")
    parser.add_argument("--files", type=int, default=200, help="files to rate, drawn evenly from the manifest")
    parser.add_argument("--split", default="train")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from sepkit.audio.io import read_audio
    from sepkit.data.manifest import read_manifest, select
    from sepkit.data.quality import rate_file
    from sepkit.metrics._common import resample
    from sepkit.metrics.nonintrusive import DNSMOS_RATE, dnsmos

    entries = select(read_manifest(args.manifest, check=False), args.split)
    picked = [entries[i] for i in np.linspace(0, len(entries) - 1, min(args.files, len(entries))).astype(int)]
    paths = [e["path"] for e in picked]

    def metric_procedure(path: str) -> dict[str, float]:
        audio, rate = read_audio(path)
        return {f"dnsmos_{k}": v for k, v in dnsmos(resample(audio.mean(0), rate, DNSMOS_RATE), DNSMOS_RATE).items()}

    rate_file(paths[0])  # load the ONNX sessions once, outside the timings
    results = {}
    for name, fn in (("metric procedure (baseline)", metric_procedure), ("sepkit data rate", rate_file)):
        start = time.perf_counter()
        scores = [fn(p) for p in paths]
        results[name] = (time.perf_counter() - start, scores)

    base_t, base = results["metric procedure (baseline)"]
    ours_t, ours = results["sepkit data rate"]
    seconds = sum(e["duration"] for e in picked)
    print(
        f"{len(paths)} files, {seconds / 60:.1f} min of audio (mean {seconds / len(paths):.1f} s), "
        f"{args.threads} thread(s)"
    )
    print("| method | time per file | speed-up |")
    print("|---|---:|---:|")
    print(f"| metric procedure (baseline) | {1000 * base_t / len(paths):.0f} ms | 1.0x |")
    print(f"| sepkit data rate | {1000 * ours_t / len(paths):.0f} ms | {base_t / ours_t:.1f}x |")
    print("| score | mean abs difference | correlation |")
    print("|---|---:|---:|")
    for key in ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"):
        a, b = np.array([s[key] for s in base]), np.array([s[key] for s in ours])
        print(f"| {key} | {np.abs(a - b).mean():.3f} | {np.corrcoef(a, b)[0, 1]:.3f} |")


if __name__ == "__main__":
    main()

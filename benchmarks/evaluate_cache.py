"""What the score cache saves: ``sepkit evaluate`` of a new model beside unchanged baselines, fresh and reused.

The first run runs and scores every system and fills an empty cache; the second evaluates another model
(a copy of the first with one weight changed, so it is a new system) beside the same baselines, which
come from the cache. Both are timed in this process, CPU time included (the metrics run here with
``--jobs 1``):
    python benchmarks/evaluate_cache.py --mix "$SEPKIT_DATA/yardstick/enh/mix" --ref "$SEPKIT_DATA/yardstick/enh/s1"
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sepkit.evaluation import evaluate
from sepkit.evaluation.score_cache import ScoreCache
from sepkit.pretrained import resolve_model_dir


def subset(mix: Path, ref: Path, files: int, out: Path) -> tuple[Path, Path]:
    """Links to the first ``files`` mixtures and their references."""
    for folder in ("mix", "ref"):
        (out / folder).mkdir(parents=True)
    for path in sorted(mix.glob("*.wav"))[:files]:
        os.symlink(path.resolve(), out / "mix" / path.name)
        os.symlink((ref / path.name).resolve(), out / "ref" / path.name)
    return out / "mix", out / "ref"


def changed_copy(model: str, out: Path) -> Path:
    """A copy of ``model``'s folder with one weight nudged: another system to the cache."""
    shutil.copytree(resolve_model_dir(model), out)
    weights = load_file(out / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] * (1 + 1e-6)
    save_file(weights, out / "model.safetensors")
    return out


def timed(**kwargs: object) -> tuple[float, float, list[str]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = evaluate(**kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - wall, time.process_time() - cpu, result.reused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--model", default="enhance-default")
    parser.add_argument("--baseline", action="append", default=None)
    parser.add_argument("--metrics", default="si_sdr,pesq,estoi,dnsmos")
    args = parser.parse_args()
    torch.set_num_threads(1)
    baselines = args.baseline or ["enhance-lowlatency", "rnnoise", "deepfilternet3"]
    with tempfile.TemporaryDirectory(prefix="sepkit-bench-") as tmp:
        root = Path(tmp)
        mix, ref = subset(args.mix, args.ref, args.files, root / "set")
        cache = ScoreCache(root / "cache")
        common = dict(mix_dir=mix, ref_dir=ref, baselines=baselines, metrics=args.metrics.split(","), cache=cache)
        fresh = timed(model_name_or_dir=args.model, work_dir=root / "w1", **common)
        other = changed_copy(args.model, root / "changed")
        reused = timed(model_name_or_dir=str(other), work_dir=root / "w2", **common)
    print(f"{args.files} files, baselines {', '.join(baselines)}, metrics {args.metrics}, one thread")
    print("| run | wall s | CPU s | systems reused | x fresh (wall) |\n|---|---:|---:|---|---:|")
    for label, (wall, cpu, names) in (("fresh (empty cache)", fresh), ("new model, baselines cached", reused)):
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {', '.join(names) or '-'} | {wall / fresh[0]:.2f}x |")


if __name__ == "__main__":
    main()

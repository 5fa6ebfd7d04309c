"""Time per training batch of the segmental SNR estimators that ``sepkit personalize --purify`` runs on every step.

Purification rates each batch of premixtures (by default 8 crops of 2 s at 16 kHz) with a frozen
estimator before the loss. This measures that cost for two exported estimators in the same run:
by default the shipped ``snr-estimator`` (arch ``enhancer_snr``, a frozen enhancer plus a GRU head)
against a plain ``snr_estimator`` GRU of the demo size (2 × 256, untrained: speed only), the
named baseline. Reported: median seconds per batch over ``--repeats`` and the ratio to the baseline.

    python benchmarks/snr_estimator_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from sepkit.models import build_model
from sepkit.pretrained import load_network


def seconds_per_batch(net: torch.nn.Module, batch: torch.Tensor, repeats: int) -> float:
    """Median wall time of ``net(batch)`` without gradients, after one warm-up call."""
    times = []
    with torch.no_grad():
        net(batch)
        for _ in range(repeats):
            start = time.perf_counter()
            net(batch)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="snr-estimator", help="estimator to time (shipped name or folder)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net, config = load_network(args.model)
    baseline = build_model(
        "snr_estimator", sample_rate=config.sample_rate, n_fft=1024, hop=256, hidden=256, layers=2
    ).eval()
    samples = int(args.seconds * config.sample_rate)
    batch = 0.1 * torch.randn(args.batch, samples, generator=torch.Generator().manual_seed(0))
    model_s = seconds_per_batch(net, batch, args.repeats)
    base_s = seconds_per_batch(baseline, batch, args.repeats)
    print(
        json.dumps(
            {
                "model": args.model,
                "arch": config.arch,
                "threads": args.threads,
                "batch": f"{args.batch} x {args.seconds} s",
                "model_seconds_per_batch": round(model_s, 4),
                "baseline": "snr_estimator GRU 2 x 256 (demo.yaml size)",
                "baseline_seconds_per_batch": round(base_s, 4),
                "ratio": round(model_s / base_s, 2),
                "extra_seconds_per_500_steps": round(500 * (model_s - base_s), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

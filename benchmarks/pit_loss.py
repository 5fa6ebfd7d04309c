"""Time sepkit's pit_loss against asteroid's PITLossWrapper (SI-SDR, forward + backward, CPU).

Run: python benchmarks/pit_loss.py [--threads N]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr

from sepkit.losses import pit_loss


def seconds_per_call(step: Callable[[], None], repeats: int) -> float:
    """Median wall time of ``step`` over ``repeats`` calls after one warm-up."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    asteroid_pit = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")
    batch, samples = 8, 4 * 16000
    print(f"batch {batch}, {samples} samples, {args.threads} thread(s), forward + backward")
    for k in (2, 3, 4):
        est = torch.randn(batch, k, samples, requires_grad=True)
        ref = torch.randn(batch, k, samples)

        def ours(est: torch.Tensor = est, ref: torch.Tensor = ref) -> None:
            pit_loss(est, ref)[0].mean().backward()

        def theirs(est: torch.Tensor = est, ref: torch.Tensor = ref) -> None:
            asteroid_pit(est, ref).backward()

        t_ours, t_theirs = seconds_per_call(ours, args.repeats), seconds_per_call(theirs, args.repeats)
        print(
            f"K={k}: sepkit {t_ours * 1e3:7.2f} ms   asteroid {t_theirs * 1e3:7.2f} ms   speed-up {t_theirs / t_ours:5.1f}x"
        )


if __name__ == "__main__":
    main()

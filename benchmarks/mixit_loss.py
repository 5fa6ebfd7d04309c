"""Time sepkit's mixit_loss against asteroid's MixITLossWrapper (forward + backward, CPU and CUDA).

M=8 outputs, N=2 mixtures, batch 8, 4 s at 16 kHz, the thresholded SNR loss (snr_max 30 dB) in
both; asteroid remixes the waveforms of all 2^M partitions (generalized=True), sepkit scores
them from inner products and remixes only the winner. Median of ``--repeats`` calls.

Run: python benchmarks/mixit_loss.py [--threads N] [--repeats R] [--device cpu|cuda|all]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from asteroid.losses import MixITLossWrapper

from sepkit.losses import mixit_loss

TAU = 10.0 ** (-30.0 / 10.0)
EPS = 1e-8


def thresholded_snr(est: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """The same per-example loss as mixit_loss, written plainly for asteroid's wrapper: ``(B,)``."""
    error = ((mix - est) ** 2).sum(-1)
    return (10 * torch.log10(error + TAU * (mix**2).sum(-1) + EPS)).mean(-1)


def seconds_per_call(step: Callable[[], None], repeats: int, device: torch.device) -> float:
    """Median wall time of ``step`` over ``repeats`` calls after one warm-up."""
    step()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def compare(
    device: torch.device, batch: int, n_est: int, n_mix: int, samples: int, repeats: int
) -> tuple[float, float, float]:
    """(sepkit seconds, asteroid seconds, largest loss difference) on one device."""
    g = torch.Generator().manual_seed(0)
    est = torch.randn(batch, n_est, samples, generator=g).to(device).requires_grad_(True)
    mix = torch.randn(batch, n_mix, samples, generator=g).to(device)
    wrapper = MixITLossWrapper(thresholded_snr, generalized=True, reduction="none")

    def ours() -> None:
        est.grad = None
        mixit_loss(est, mix)[0].mean().backward()

    def theirs() -> None:
        est.grad = None
        wrapper(est, mix).mean().backward()

    diff = (mixit_loss(est, mix)[0] - wrapper(est, mix).squeeze(-1)).abs().max().item()
    return seconds_per_call(ours, repeats, device), seconds_per_call(theirs, repeats, device), diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all", help="all: CPU, and CUDA if present")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch, n_est, n_mix, samples = 8, 8, 2, 4 * 16000
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    print(
        f"M={n_est} outputs, N={n_mix} mixtures, batch {batch}, {samples} samples (4 s at 16 kHz), "
        f"forward + backward, median of {args.repeats}, {args.threads} CPU thread(s), torch {torch.__version__}"
    )
    print(f"{'device':<8} {'sepkit ms':>10} {'asteroid ms':>12} {'speed-up':>9} {'max |loss diff|':>16}")
    for device in devices:
        t_ours, t_theirs, diff = compare(device, batch, n_est, n_mix, samples, args.repeats)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        print(
            f"{device.type:<8} {t_ours * 1e3:10.2f} {t_theirs * 1e3:12.1f} {t_theirs / t_ours:8.0f}x {diff:16.2e}"
            f"   ({name})"
        )


if __name__ == "__main__":
    main()

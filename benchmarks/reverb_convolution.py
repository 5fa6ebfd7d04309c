"""Reverberation in the training data: sepkit's ``fft_convolve`` against torchaudio's ``fftconvolve``.

Each reverberant talker is convolved with its RIR and with the RIR's early part (the target). The baseline is
what sepkit did before: two ``torchaudio.functional.fftconvolve`` calls, each cut to the speech's length.
Prints the time per reverberated talker for both and the ratio, per RIR length, on one thread.

    python benchmarks/reverb_convolution.py
"""

from __future__ import annotations

import argparse
import time

import torch
import torchaudio.functional as AF

from sepkit.data.augment import early_rir, fft_convolve


def baseline(wav: torch.Tensor, rir: torch.Tensor, early: torch.Tensor) -> list[torch.Tensor]:
    n = wav.shape[-1]
    return [AF.fftconvolve(wav, rir)[..., :n], AF.fftconvolve(wav, early)[..., :n]]


def seconds_per_call(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="speech length (a training segment)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = 16000
    gen = torch.Generator().manual_seed(0)
    wav = torch.randn(int(args.seconds * rate), generator=gen)
    print(f"speech {args.seconds:g} s at {rate} Hz, one thread, {args.repeats} repeats")
    print("| RIR | torchaudio fftconvolve x2 | sepkit fft_convolve | torchaudio / sepkit | max abs difference |")
    print("|---|---:|---:|---:|---:|")
    for rir_seconds in (0.25, 0.5, 1.0):
        rir = torch.randn(int(rir_seconds * rate), generator=gen) * torch.exp(
            -torch.arange(int(rir_seconds * rate)) / 2000
        )
        early = early_rir(rir, rate)
        ours = seconds_per_call(lambda rir=rir, early=early: fft_convolve(wav, [rir, early]), args.repeats)
        theirs = seconds_per_call(lambda rir=rir, early=early: baseline(wav, rir, early), args.repeats)
        diff = max(
            float((a - b).abs().max()) for a, b in zip(fft_convolve(wav, [rir, early]), baseline(wav, rir, early))
        )
        print(
            f"| {rir_seconds:g} s | {theirs * 1e3:.2f} ms | {ours * 1e3:.2f} ms | {theirs / ours:.1f}x | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()

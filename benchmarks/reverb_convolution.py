"""Reverberation in the training data: sepkit's ``fft_convolve`` against torchaudio's ``fftconvolve``.

Each reverberant talker is convolved with its RIR and with the RIR's early part (the target). The baseline is
what sepkit did before: two ``torchaudio.functional.fftconvolve`` calls, each cut to the speech's length.
Prints the time per reverberated talker for both and the ratio, per RIR length, on one thread. With
``--config``, also the time per training item of that recipe's data stream (cache filled first, the same
items with either convolution, best of two passes): what reverberation costs the data loader.

    python benchmarks/reverb_convolution.py
    python benchmarks/reverb_convolution.py --config recipes/pit/stft.yaml   # needs the demo corpus
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


def stream_item_seconds(config: str, items: int) -> dict[str, float]:
    """Seconds per item of ``config``'s training set with each convolution, on the same (cached) items."""
    import sepkit.data.mixing as mixing
    from sepkit.data import augment
    from sepkit.train import load_config
    from sepkit.train.datamodule import TrainingData

    def torchaudio_reverberate(wav, rir, sample_rate, early_ms=augment.EARLY_MS):  # type: ignore[no-untyped-def]
        return baseline(wav, rir, early_rir(rir, sample_rate, early_ms))

    dataset = TrainingData(load_config(config, [])).train_set
    for i in range(items):
        dataset[i]  # decode every file these items use, so both passes read from memory
    ours, best = mixing.reverberate, {}
    try:
        for _ in range(2):
            for name, fn in (("torchaudio", torchaudio_reverberate), ("sepkit", ours)):
                mixing.reverberate = fn
                start = time.perf_counter()
                for i in range(items):
                    dataset[i]
                best[name] = min(best.get(name, float("inf")), (time.perf_counter() - start) / items)
    finally:
        mixing.reverberate = ours
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="speech length (a training segment)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--config", help="also time this recipe's training items (e.g. recipes/pit/stft.yaml)")
    parser.add_argument("--items", type=int, default=400)
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

    if args.config:
        item = stream_item_seconds(args.config, args.items)
        ratio = item["torchaudio"] / item["sepkit"]
        print(
            f"\n{args.config}: {item['torchaudio'] * 1e3:.2f} ms per item with torchaudio, "
            f"{item['sepkit'] * 1e3:.2f} ms with sepkit ({ratio:.1f}x), {args.items} items"
        )


if __name__ == "__main__":
    main()

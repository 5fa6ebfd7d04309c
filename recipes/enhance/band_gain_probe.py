"""Does an enhancer's per-bin gain, averaged over ERB bands as RNNoise's and DeepFilterNet3's band gains are, sound better?

Both peers that beat ``enhance-default`` on DNSMOS shape the spectrum with one gain per ERB band (22 and 32 bands),
while ``filter_enhancer`` filters every 50 Hz bin on its own. Per-bin gains that jump from bin to bin are the
classic source of "musical" residual noise, which listeners (and DNSMOS) penalise even when SI-SDR is high. This
probe tests that on a dev set without training: each output's effective gain ``|Y| / |X|`` (512-point Hann STFT,
hop 128, capped at 1.5) is averaged within ERB bands above a cut-off frequency, applied to the input's magnitude
with the output's phase, and every variant is scored on SI-SDR, PESQ, ESTOI and DNSMOS beside the output as it is.
Judge on dev only (``fixed/enh_dev``); the yardstick decides what ships.

    python recipes/enhance/band_gain_probe.py --model enhance-default \
        --mix "$SEPKIT_DATA/demo/fixed/enh_dev/mix" --ref "$SEPKIT_DATA/demo/fixed/enh_dev/s1" --items 40
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import sepkit
from sepkit.audio.stft import istft, magnitude, stft, stft_window
from sepkit.metrics import get_metrics, score_signals

N_FFT, HOP = 512, 128
GAIN_CAP = 1.5  # the deep filter may raise a bin above the input; cap what one bin lends its band
VARIANTS = ((32, 0.0), (24, 1000.0), (16, 2000.0), (32, 2000.0))  # (ERB bands, lowest frequency averaged, Hz)
COLUMNS = ("si_sdr", "pesq", "estoi", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")


def erb_number(hz: np.ndarray) -> np.ndarray:
    """Glasberg & Moore's ERB-number scale."""
    return 21.4 * np.log10(1.0 + 0.00437 * hz)


def band_average_matrix(n_bins: int, rate: int, bands: int, low_hz: float) -> torch.Tensor:
    """``(n_bins, n_bins)`` averaging matrix: bins at or above ``low_hz`` take their ERB band's mean, others pass."""
    hz = np.linspace(0.0, rate / 2, n_bins)
    erb = erb_number(hz)
    edges = np.linspace(erb_number(np.array(low_hz)), erb[-1], bands + 1)
    band = np.clip(np.searchsorted(edges, erb, side="right") - 1, 0, bands - 1)
    band[hz < low_hz] = -1 - np.arange(int((hz < low_hz).sum()))  # a band of its own for every bin below
    same = band[:, None] == band[None, :]
    return torch.tensor(same / same.sum(1, keepdims=True), dtype=torch.float32)


def band_smoothed(noisy: np.ndarray, enhanced: np.ndarray, matrix: torch.Tensor) -> np.ndarray:
    """``enhanced`` resynthesised with its effective gain averaged by ``matrix``, its phase kept, clipped to [-1, 1]."""
    window = stft_window(N_FFT)
    x = stft(torch.from_numpy(noisy), N_FFT, HOP, window, pad_mode="reflect")  # the README's table used reflect
    y = stft(torch.from_numpy(enhanced), N_FFT, HOP, window, pad_mode="reflect")
    x_mag = x.abs()
    gain = (y.abs() / x_mag.clamp_min(1e-8)).clamp(max=GAIN_CAP)
    spec = (matrix @ gain) * x_mag * (y / magnitude(y, 1e-12))  # the output's phase
    return np.clip(istft(spec, N_FFT, HOP, window, len(noisy)).numpy(), -1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enhance-default", help="shipped name or export folder of an enhancer")
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--items", type=int, default=40, help="the first N files of --mix")
    args = parser.parse_args()

    model = sepkit.load(args.model)
    metrics = get_metrics("si_sdr,pesq,estoi,dnsmos")
    names = ["as output"] + [f"{bands} ERB bands from {low:.0f} Hz" for bands, low in VARIANTS]
    rows: dict[str, list[list[float]]] = {name: [] for name in names}
    matrices: dict[int, list[torch.Tensor]] = {}  # per sample rate, one per variant
    for path in sorted(args.mix.glob("*.wav"))[: args.items]:
        noisy, rate = sf.read(path, dtype="float32")
        ref, _ = sf.read(args.ref / path.name, dtype="float32")
        if rate not in matrices:
            matrices[rate] = [band_average_matrix(N_FFT // 2 + 1, rate, bands, low) for bands, low in VARIANTS]
        enhanced = np.asarray(model.enhance(noisy, rate), dtype=np.float32)
        outputs = [enhanced] + [band_smoothed(noisy, enhanced, m) for m in matrices[rate]]
        for name, out in zip(names, outputs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row = score_signals(out[None], ref[None], rate, metrics)
            rows[name].append([row[c] for c in COLUMNS])
    print("| variant | SI-SDR | PESQ | ESTOI | OVRL | SIG | BAK |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, values in rows.items():
        means = np.mean(values, axis=0)
        print(f"| {name} | {means[0]:.2f} | " + " | ".join(f"{m:.3f}" for m in means[1:]) + " |")


if __name__ == "__main__":
    main()

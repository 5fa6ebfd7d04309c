"""Where in frequency, and when, an enhancer's output departs from the clean reference on yardstick items.

For each system, every output is scaled to its reference by one least-squares gain (as SI-SDR does), then
three numbers per band are summed over the chosen items, all relative to the reference's energy in speech
frames (frames within 30 dB of the file's loudest): the output's level in speech frames, the error of its
magnitude spectrum in speech frames (what is left of the noise plus what the speech lost), and the output's
level in pauses (frames 50 dB or more below the loudest, where only residual noise can be). It tells a
model that leaves noise under the speech from one that leaves it in the pauses, band by band, which
DNSMOS's single BAK number cannot.

    python recipes/enhance/band_balance.py --model enhance-default --baseline rnnoise --baseline deepfilternet3 \
        --items $SEPKIT_DATA/yardstick/enh/items.jsonl --slice profile="clean English, -5..10 dB, dry"
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import torch

from sepkit.audio.stft import power_spectrum, stft, stft_window
from sepkit.data.yardstick.sets import read_items
from sepkit.models.base import match_mixture_gain

EDGES_HZ = (0, 250, 500, 1000, 2000, 3000, 4000, 5500, 7000, 8001)
N_FFT, HOP = 512, 256
SPEECH_DB, PAUSE_DB = 30.0, 50.0


def band_sums(out: np.ndarray, ref: np.ndarray, rate: int) -> np.ndarray:
    """``(4, bands)``: output in speech frames, magnitude error in speech frames, output in pauses, reference in speech frames."""
    n = min(len(out), len(ref))
    ref_t = torch.from_numpy(ref[:n].astype(np.float32))
    out_t = match_mixture_gain(torch.from_numpy(out[:n].astype(np.float32))[None, None], ref_t[None])[0, 0]
    window = stft_window(N_FFT)
    o, r = (power_spectrum(stft(x, N_FFT, HOP, window, pad_mode="reflect")).numpy() for x in (out_t, ref_t))
    energy = r.sum(0)
    speech = energy > energy.max() * 10 ** (-SPEECH_DB / 10)
    pause = energy < energy.max() * 10 ** (-PAUSE_DB / 10)
    band = np.digitize(np.arange(r.shape[0]) * rate / N_FFT, EDGES_HZ) - 1
    error = (np.sqrt(o) - np.sqrt(r)) ** 2
    sums = np.zeros((4, len(EDGES_HZ) - 1))
    for b in range(sums.shape[1]):
        rows = band == b
        sums[:, b] = (
            o[rows][:, speech].sum(),
            error[rows][:, speech].sum(),
            o[rows][:, pause].sum(),
            r[rows][:, speech].sum(),
        )
    return sums


def systems(models: list[str], baselines: list[str]) -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    """The noisy input, each sepkit model and each baseline, as functions ``(mono, rate) -> mono``."""
    import sepkit
    from sepkit.evaluation.baselines import baseline_enhancer

    found: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"noisy input": lambda x, rate: x}
    for name in models:
        found[name] = sepkit.load(name).enhance
    for name in baselines:
        run = baseline_enhancer(name)
        found[name] = lambda x, rate, run=run: run(x[None], rate)[0]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=Path, required=True, help="a yardstick set's items.jsonl")
    parser.add_argument("--model", action="append", default=[], help="a sepkit enhancer (name or folder)")
    parser.add_argument("--baseline", action="append", default=[], help="rnnoise, deepfilternet3 or noisereduce")
    parser.add_argument("--slice", default=None, help="KEY=VALUE: only the items whose slice KEY is VALUE")
    args = parser.parse_args()
    items = read_items(args.items)
    if args.slice:
        key, value = args.slice.split("=", 1)
        items = [it for it in items if it["slices"].get(key) == value]
    if not items:
        raise SystemExit(f"no items in {args.items} match {args.slice}")
    run = systems(args.model, args.baseline)
    totals = {name: np.zeros((4, len(EDGES_HZ) - 1)) for name in run}
    for item in items:
        mix, rate = sf.read(args.items.parent / item["mixture"], dtype="float32")
        ref, _ = sf.read(args.items.parent / item["sources"][0], dtype="float32")
        for name, enhance in run.items():
            totals[name] += band_sums(np.asarray(enhance(mix, rate), dtype=np.float32), ref, rate)
    print(f"{len(items)} items; dB relative to the reference's energy in speech frames, per band (Hz)")
    header = " ".join(f"{a}-{b - 1 if b == 8001 else b:>5}" for a, b in zip(EDGES_HZ[:-1], EDGES_HZ[1:]))
    for row, label in enumerate(
        ("output level, speech frames", "magnitude error, speech frames", "output level, pauses")
    ):
        print(f"\n{label}\n{'system':16s} {header}")
        for name, t in totals.items():
            print(
                f"{name:16s} " + " ".join(f"{10 * np.log10(v / t[3, b] + 1e-12):>9.1f}" for b, v in enumerate(t[row]))
            )


if __name__ == "__main__":
    main()

"""What moves DNSMOS on a dev set: a trained enhancer with its gain reshaped, and each system's output level.

For every variant (JSON of architecture arguments without weights the model is loaded with,
``sepkit.load(..., arch_args=...)``: for a ``fast_enhancer`` e.g. ``'{"smooth_bins": 15, "smooth_frames": 6}'``,
for a ``filter_enhancer`` such as the shipped ``enhance-default`` e.g. ``'{"norm_tau": 2.0}'``) the dev mixtures
are enhanced and scored on SI-SDR and DNSMOS twice: as written, and with every file scaled to -26 dBFS RMS first.
DNSMOS is level-dependent, so the second reading compares systems at one level, as P.835 listening tests
present speech. ``--baseline noisereduce`` runs that baseline (as ``sepkit evaluate`` does) and
``--system LABEL=DIR`` scores a folder of outputs (e.g. the clean references) the same way. Judge
on dev only; the test set stays for the final table.

    python recipes/enhance/dnsmos_probe.py --model FAST_ENHANCER --mix DEV/mix --ref DEV/s1 \
        --variant '{}' --variant '{"smooth_bins": 15, "smooth_frames": 6}' --baseline noisereduce --system reference=DEV/s1

``FAST_ENHANCER``: a ``fast_enhancer`` model (shipped name or export folder), e.g. the stage-2 model of the README.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

LEVEL_DBFS = -26.0


def _at_level(x: np.ndarray, dbfs: float = LEVEL_DBFS) -> np.ndarray:
    """``x`` scaled to an RMS of ``dbfs``, then down to a peak of 0.99 if it would exceed it."""
    y = x * (10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(x**2))), 1e-9))
    peak = float(np.abs(y).max())
    return y * (0.99 / peak) if peak > 0.99 else y


def _score(outputs: list[np.ndarray], refs: list[np.ndarray], rate: int) -> str:
    from sepkit.metrics.nonintrusive import dnsmos
    from sepkit.metrics.sisdr import si_sdr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = [dnsmos(x, rate) for x in outputs]
        levelled = [dnsmos(_at_level(x), rate) for x in outputs]
    sdr = np.mean([si_sdr(x[: len(r)], r[: len(x)]) for x, r in zip(outputs, refs)])
    level = np.mean([20 * np.log10(max(float(np.sqrt(np.mean(x**2))), 1e-9)) for x in outputs])

    def cols(rows: list[dict[str, float]]) -> str:
        return " | ".join(f"{np.mean([r[k] for r in rows]):.3f}" for k in ("ovrl", "sig", "bak"))

    return f"{sdr:.2f} | {level:.1f} | {cols(raw)} | {cols(levelled)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="shipped name or export folder of an enhancer")
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--variant", action="append", default=[], help="JSON of model arguments (repeatable)")
    parser.add_argument("--baseline", action="append", default=[], help="baseline enhancer to run (noisereduce)")
    parser.add_argument("--system", action="append", default=[], help="LABEL=DIR of outputs to score too")
    args = parser.parse_args()

    import sepkit
    from sepkit.audio.io import read_audio
    from sepkit.evaluation.baselines import baseline_enhancer

    names = sorted(p.name for p in args.mix.glob("*.wav"))
    mixes = [read_audio(args.mix / n) for n in names]
    rate = mixes[0][1]
    refs = [read_audio(args.ref / n)[0][0] for n in names]
    print(f"{len(names)} files of {args.mix}")
    print("| system | SI-SDR (dB) | RMS (dBFS) | OVRL | SIG | BAK | OVRL at -26 dBFS | SIG | BAK |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in args.variant or ["{}"]:
        model = sepkit.load(args.model, device="cpu", arch_args=json.loads(spec))
        outputs = [model.enhance(audio, sr)[0] for audio, sr in mixes]
        print(f"| {args.model} {spec} | {_score(outputs, refs, rate)} |", flush=True)
    for name in args.baseline:
        enhance = baseline_enhancer(name)
        outputs = [enhance(audio.astype(np.float32), sr)[0] for audio, sr in mixes]
        print(f"| {name} | {_score(outputs, refs, rate)} |", flush=True)
    for item in args.system:
        label, _, folder = item.partition("=")
        outputs = [read_audio(Path(folder) / n)[0][0] for n in names]
        print(f"| {label} | {_score(outputs, refs, rate)} |", flush=True)


if __name__ == "__main__":
    main()

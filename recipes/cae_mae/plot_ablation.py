"""Draw the CAE/MAE ablation's curves: the cycle, no-cycle and supervised runs on one figure.

Validation SI-SDRi, PESQ and ESTOI on the paired dev set against the optimiser step, and each run's
stage-2 training loss (the cycle run's reconstruction of the noisy input, the supervised run's
negative SI-SDR), read from the runs' CSV logs with ``sepkit.train.curves.read_logged``.

    python recipes/cae_mae/plot_ablation.py runs/cae-mae-cpu-small runs/cae-mae-cpu-small-nocycle \
        runs/cae-mae-cpu-small-supervised --out recipes/cae_mae/curves_cpu_small.png
    python recipes/cae_mae/plot_ablation.py runs/cae-mae-cpu-small2-ratio runs/cae-mae-cpu-small2-ratio-nocycle \
        runs/cae-mae-cpu-small2-ratio-supervised --offset cae-mae-cpu-small2-ratio-nocycle=1000 \
        --out recipes/cae_mae/curves_cpu_small2_ratio.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sepkit.plots import save_figure
from sepkit.train.curves import read_logged, running_mean

PANELS = (
    ("val/si_sdri", "validation SI-SDRi (dB)"),
    ("val/pesq", "validation PESQ"),
    ("val/estoi", "validation ESTOI"),
    ("train/recon_noisy", "train: noisy reconstruction (unpaired runs)"),
    ("train/loss", "train: total loss"),
    ("val/latent_distance", "validation latent distance"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (output_dir of sepkit train)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--offset",
        action="append",
        default=[],
        metavar="NAME=STEPS",
        help="add STEPS to run folder NAME's steps: a run started from another's checkpoint, drawn on its step axis",
    )
    args = parser.parse_args()
    offsets = {name: int(steps) for name, steps in (item.split("=", 1) for item in args.offset)}

    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 8), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    for run in args.runs:
        series = read_logged(run)
        for ax, (key, title) in zip(axes, PANELS):
            if key not in series:
                continue
            steps, values = series[key]
            steps = [step + offsets.get(run.name, 0) for step in steps]
            if key.startswith("train/"):  # the running mean sepkit train's curves.png draws
                ax.plot(steps, running_mean(values), label=run.name)
            else:
                ax.plot(steps, values, marker="o", label=run.name)
            ax.set_title(title)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
    for ax in axes:
        if ax.lines:
            ax.legend(fontsize=8)
    save_figure(fig, args.out)
    print(args.out)


if __name__ == "__main__":
    main()

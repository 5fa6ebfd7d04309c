"""Draw the equal-budget comparison of separators: validation SI-SDRi against the training CPU hours spent.

Each run logs ``time/cpu_hours`` (training CPU time of its process, validation left out) beside
``val/si_sdri`` at every validation (``sepkit.train.callbacks.RunRecord``); this script joins the two
on the step, draws one line per run, and prints a Markdown table of each run's steps, CPU hours,
CPU seconds per step and best and last validation SI-SDRi.

    python recipes/pit/plot_budget.py runs/budget-stft runs/budget-convtasnet runs/budget-sudormrf \
        --out recipes/pit/budget.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from sepkit.plots import save_figure
from sepkit.train.curves import read_logged, running_mean


def run_label(run: Path) -> str:
    """The run's architecture and folder name, from the ``config.yaml`` it wrote."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    return f"{config['model']['arch']} ({run.name})"


def budget_curve(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, CPU hours, validation SI-SDRi) at each validation of ``run``."""
    series = read_logged(run)
    if "time/cpu_hours" not in series or "val/si_sdri" not in series:
        raise SystemExit(f"{run}: no time/cpu_hours or val/si_sdri logged (a run of an older sepkit?)")
    hours = dict(zip(*series["time/cpu_hours"]))
    scores = dict(zip(*series["val/si_sdri"]))
    steps = np.array(sorted(set(hours) & set(scores)))
    return steps, np.array([hours[s] for s in steps]), np.array([scores[s] for s in steps])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (output_dir of sepkit train)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()

    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2), layout="constrained")
    by_hours, by_step, loss = fig.subplots(1, 3)
    rows = []
    for run in args.runs:
        label = run_label(run)
        steps, hours, scores = budget_curve(run)
        by_hours.plot(hours, scores, "o-", ms=3, label=label)
        by_step.plot(steps, scores, "o-", ms=3, label=label)
        train = read_logged(run).get("train/loss")
        if train is not None:
            loss_hours = np.interp(train[0], steps, hours)  # CPU hours at each logged step, between validations
            loss.plot(loss_hours, running_mean(train[1]), label=label)
        rows.append(
            f"| {label} | {steps[-1]} | {hours[-1]:.2f} | {3600 * hours[-1] / steps[-1]:.1f} | "
            f"{scores.max():.2f} (step {steps[scores.argmax()]}) | {scores[-1]:.2f} |"
        )
    for ax, xlabel, title in (
        (by_hours, "training CPU hours", "validation SI-SDRi (dB) vs CPU time"),
        (by_step, "step", "validation SI-SDRi (dB) vs step"),
        (loss, "training CPU hours", "training loss (-SI-SDR, running mean)"),
    ):
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, args.out)
    print("| run | steps | CPU hours | CPU-s per step | best val SI-SDRi | last val SI-SDRi |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(args.out)


if __name__ == "__main__":
    main()

"""Compare a fine-tuned and a from-scratch separation run: switching rate per epoch, validation SI-SDRi per step.

Reads the run folders that ``sepkit train`` wrote (``switch_rate.csv``, ``logs/version_*/metrics.csv``,
``export/CARD.md``, and ``test/scores.json`` when ``run.sh`` evaluated them); writes a PNG with both
curves and prints the comparison table as Markdown.
  python recipes/denoise_pretrain/plot_switching.py --finetune RUN --scratch RUN [--pretrain RUN] --png OUT.png
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from sepkit.pretrained import read_card
from sepkit.train.switching import read_csv


def logged(run: Path, key: str) -> dict[int, float]:
    """Updates done -> value of ``key`` over every log version (Lightning logs 0-based steps; later rows win)."""
    values: dict[int, float] = {}
    for path in sorted((run / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get(key):
                    values[int(row["step"]) + 1] = float(row[key])
    return dict(sorted(values.items()))


def test_scores(run: Path) -> dict[str, float]:
    """The model's mean test scores (si_sdri, sdri, ...) from ``<run>/test/scores.json`` (train_and_evaluate.sh)."""
    path = run / "test" / "scores.json"
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text())
    return {k: float(v) for k, v in doc["means"].get(doc["model"], {}).items() if v is not None}


def first_step_reaching(curve: dict[int, float], level: float) -> int | None:
    """The first logged step whose value is at least ``level``."""
    return next((step for step, value in curve.items() if value >= level), None)


def summary(run: Path) -> dict[str, Any]:
    """What the table needs from one run folder."""
    card, _ = read_card(run / "export")
    curve = logged(run, "val/si_sdri")
    rates = read_csv(run)
    best_step = max(curve, key=curve.__getitem__) if curve else None
    init = json.loads((run / "init.json").read_text()) if (run / "init.json").is_file() else None
    return {"run": run.name, "curve": curve, "rates": rates, "best_step": best_step,
            "best": curve[best_step] if best_step is not None else math.nan, "card": card, "init": init,
            "test": test_scores(run)}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(finetune: dict[str, Any], scratch: dict[str, Any], pretrain: Path | None) -> str:
    """The comparison as a Markdown table, with a line on the pretraining run."""
    target = scratch["best"]
    lines = ["| run | initialisation | steps | val SI-SDRi after epoch 1 (dB) | best val SI-SDRi (dB) @ step "
             f"| steps to reach {_fmt(target)} dB (scratch's best) | test SI-SDRi / SDRi (dB) | switch rate, mean "
             "| switch rate, last epoch | training time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, s in (("fine-tuned", finetune), ("from scratch", scratch)):
        curve, rates, card = s["curve"], s["rates"], s["card"]
        first = next(iter(curve.values()), None)
        reach = first_step_reaching(curve, target) if not math.isnan(target) else None
        init = "denoising-pretrained (mask projection skipped)" if s["init"] else "random"
        mean_rate = sum(rates.values()) / len(rates) if rates else None
        last_rate = rates[max(rates)] if rates else None
        lines.append(f"| {label} (`{s['run']}`) | {init} | {card.get('steps', '–')} | {_fmt(first)} | "
                     f"{_fmt(s['best'])} @ {s['best_step']} | {reach if reach is not None else 'not reached'} | "
                     f"{_fmt(s['test'].get('si_sdri'))} / {_fmt(s['test'].get('sdri'))} | {_fmt(mean_rate, 3)} | "
                     f"{_fmt(last_rate, 3)} | {card.get('training_time', '–')} |")
    if pretrain is not None:
        card, _ = read_card(pretrain / "export")
        curve = logged(pretrain, "val/si_sdri")
        lines.append("")
        lines.append(f"Pretraining (`{pretrain.name}`, denoising, 1 output): {card.get('steps', '–')} steps, "
                     f"best validation SI-SDRi {_fmt(max(curve.values()) if curve else None)} dB, "
                     f"{card.get('training_time', '–')} on {card.get('device', '–')}.")
    return "\n".join(lines)


def plot(finetune: dict[str, Any], scratch: dict[str, Any], png: Path) -> None:
    """Two panels: switching rate per epoch, validation SI-SDRi per step; both runs in each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, s, style in (("fine-tuned from denoising", finetune, "o-"), ("from scratch", scratch, "s--")):
        rates = s["rates"]
        left.plot(list(rates), list(rates.values()), style, label=label)
        right.plot(list(s["curve"]), list(s["curve"].values()), style, label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set(xlabel="epoch (vs the previous one)", ylabel="label-switching rate", title="PIT label switching",
             ylim=(0, None))
    right.set(xlabel="training steps (updates)", ylabel="validation SI-SDRi (dB)", title="Convergence")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finetune", type=Path, required=True, help="run folder of the fine-tuned separator")
    parser.add_argument("--scratch", type=Path, required=True, help="run folder of the from-scratch separator")
    parser.add_argument("--pretrain", type=Path, help="run folder of the denoising pretraining (for the table)")
    parser.add_argument("--png", type=Path, required=True, help="where to write the plot")
    parser.add_argument("--table", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    finetune, scratch = summary(args.finetune), summary(args.scratch)
    plot(finetune, scratch, args.png)
    text = table(finetune, scratch, args.pretrain)
    if args.table is not None:
        args.table.write_text(text + "\n")
    print(text)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

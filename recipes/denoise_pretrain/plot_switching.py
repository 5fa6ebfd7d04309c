"""Compare separation runs (fine-tuned vs from scratch, any front end): switching rate per epoch, val SI-SDRi per step.

Reads the run folders that ``sepkit train`` wrote (``config.yaml``, ``switch_rate.csv``,
``logs/version_*/metrics.csv``, ``export/CARD.md``, and ``test/scores.json`` when ``run.sh`` evaluated
them); writes a PNG with every run's curves and prints the comparison table as Markdown.
  python recipes/denoise_pretrain/plot_switching.py --run "fine-tuned=RUN" --run "from scratch=RUN" \\
      [--baseline LABEL] [--pretrain RUN ...] --png OUT.png [--table OUT.md]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
from pathlib import Path
from typing import Any

import yaml

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
    return {
        "run": run.name,
        "front_end": front_end(run),
        "curve": curve,
        "rates": rates,
        "best_step": best_step,
        "best": curve[best_step] if best_step is not None else math.nan,
        "card": card,
        "init": init,
        "test": test_scores(run),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def front_end(run: Path) -> str:
    """What the separator listens through: the learned filterbank, or that plus a named SSL encoder."""
    path = run / "config.yaml"
    model = (yaml.safe_load(path.read_text()) or {}).get("model", {}) if path.is_file() else {}
    args = model.get("args") or {}
    if "encoder" not in args:
        return "learned filterbank"
    return f"filterbank + `{Path(str(args['encoder'])).parent.name}` ({args.get('encoder_mode', 'frozen')})"


def table(runs: dict[str, dict[str, Any]], baseline: str, pretrains: list[Path]) -> str:
    """The comparison as a Markdown table (steps to reach the baseline run's best), with a line per pretraining run."""
    target = runs[baseline]["best"]
    lines = [
        "| run | front end | initialisation | steps | val SI-SDRi after epoch 1 (dB) | best val SI-SDRi (dB) @ step "
        f"| steps to reach {_fmt(target)} dB ({baseline}'s best) | test SI-SDRi / SDRi (dB) | switch rate, mean "
        "| switch rate, last epoch | training time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, s in runs.items():
        curve, rates, card = s["curve"], s["rates"], s["card"]
        first = next(iter(curve.values()), None)
        reach = first_step_reaching(curve, target) if not math.isnan(target) else None
        init = "denoising-pretrained (mask projection skipped)" if s["init"] else "random"
        mean_rate = sum(rates.values()) / len(rates) if rates else None
        last_rate = rates[max(rates)] if rates else None
        lines.append(
            f"| {label} (`{s['run']}`) | {s['front_end']} | {init} | {card.get('steps', '–')} | {_fmt(first)} | "
            f"{_fmt(s['best'])} @ {s['best_step']} | {reach if reach is not None else 'not reached'} | "
            f"{_fmt(s['test'].get('si_sdri'))} / {_fmt(s['test'].get('sdri'))} | {_fmt(mean_rate, 3)} | "
            f"{_fmt(last_rate, 3)} | {card.get('training_time', '–')} |"
        )
    for pretrain in pretrains:
        card, _ = read_card(pretrain / "export")
        curve = logged(pretrain, "val/si_sdri")
        lines.append("")
        lines.append(
            f"Pretraining (`{pretrain.name}`, denoising, 1 output, {front_end(pretrain)}): "
            f"{card.get('steps', '–')} steps, best validation SI-SDRi "
            f"{_fmt(max(curve.values()) if curve else None)} dB, "
            f"{card.get('training_time', '–')} on {card.get('device', '–')}."
        )
    return "\n".join(lines)


def plot(runs: dict[str, dict[str, Any]], png: Path) -> None:
    """Two panels: switching rate per epoch, validation SI-SDRi per step; every run in each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    styles = ("o-", "s--", "^-.", "D:", "v-", "x--")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.0))
    for (label, s), style in zip(runs.items(), itertools.cycle(styles)):
        rates = s["rates"]
        left.plot(list(rates), list(rates.values()), style, label=label)
        right.plot(list(s["curve"]), list(s["curve"].values()), style, label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set(
        xlabel="epoch (vs the previous one)", ylabel="label-switching rate", title="PIT label switching", ylim=(0, None)
    )
    right.set(xlabel="training steps (updates)", ylabel="validation SI-SDRi (dB)", title="Convergence")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def labelled_run(text: str) -> tuple[str, Path]:
    """``LABEL=RUN_DIR`` from the command line."""
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=RUN_DIR, got {text!r}")
    return label, Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run",
        type=labelled_run,
        action="append",
        required=True,
        metavar="LABEL=RUN_DIR",
        help="a separation run to compare, with its label (repeat; table and legend keep this order)",
    )
    parser.add_argument(
        "--baseline",
        help="label of the run whose best validation SI-SDRi the others race to "
        "(default: the first run from random weights)",
    )
    parser.add_argument(
        "--pretrain",
        type=Path,
        action="append",
        default=[],
        help="run folder of a denoising pretraining, described under the table (repeat)",
    )
    parser.add_argument("--png", type=Path, required=True, help="where to write the plot")
    parser.add_argument("--table", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    runs = {label: summary(path) for label, path in args.run}
    baseline = args.baseline or next((label for label, s in runs.items() if not s["init"]), next(iter(runs)))
    if baseline not in runs:
        parser.error(f"--baseline {baseline!r} is not one of the --run labels: {', '.join(runs)}")
    plot(runs, args.png)
    text = table(runs, baseline, args.pretrain)
    if args.table is not None:
        args.table.write_text(text + "\n")
    print(text)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

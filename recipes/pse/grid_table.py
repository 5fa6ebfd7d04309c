"""Print the results of ``grid.sh`` runs as a markdown table: a row per variant, a column per run.

One row per variant, one column per run; each cell is the variant's mean SI-SDRi (dB) on the
speaker's test set, then PESQ and ESTOI. Training times come from the model cards.
    python recipes/pse/grid_table.py runs/pse-grid/SPEAKER_LO_HI [...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sepkit.pretrained import read_card

VARIANTS = (
    "generalist",
    "pseudose",
    "pseudose_frames",
    "pseudose_dp",
    "pseudose_oracle",
    "pseudose_dp_energy",
    "pseudose_oracle_energy",
    "pseudose_dp_target",
    "pseudose_distill",
    "cm",
    "cm_dp",
    "cm_dp_energy",
    "cm_dp_target",
    "cm_distill",
    "upper",
)


def cell(run: Path, variant: str) -> str:
    """``SI-SDRi / PESQ / ESTOI`` of one variant, or ``-`` when it has not been scored."""
    path = run / f"{variant}.json"
    if not path.is_file():
        return "-"
    means = json.loads(path.read_text())["means"]
    model = next(k for k in means if k != "unprocessed")
    m = means[model]
    return f"{m['si_sdri']:.2f} / {m['pesq']:.3f} / {m['estoi']:.3f}"


def training_time(run: Path, variant: str) -> str:
    """The personalisation's training time from its card, or ``-``."""
    if not (run / variant / "CARD.md").is_file():
        return "-"
    meta, _ = read_card(run / variant)
    return str(meta.get("training_time", "-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="runs/pse-grid/SPEAKER_LO_HI folders")
    args = parser.parse_args()
    heads = []
    for run in args.runs:
        speaker, lo, hi = run.name.rsplit("_", 2)
        heads.append(f"{speaker}, premixtures {lo}..{hi} dB")
    print("| variant | " + " | ".join(heads) + " | training time |")
    print("|---|" + "---|" * (len(heads) + 1))
    for v in VARIANTS:
        times = ", ".join(dict.fromkeys(t for t in (training_time(run, v) for run in args.runs) if t != "-")) or "-"
        print(f"| {v} | " + " | ".join(cell(run, v) for run in args.runs) + f" | {times} |")


if __name__ == "__main__":
    main()

"""Training curves: every metric a run logged, against the optimiser step, drawn as ``OUTPUT_DIR/curves.png``.

Read from the run's CSV logs (``logs/version_K/metrics.csv``, one version per (re)start). Where a
restart logged steps again (it resumed from an earlier checkpoint), the later version's values
win. ``train/X`` and ``val/X`` share a panel; every other metric (``train/switch_rate``,
``val/si_sdri_fixed``, the learning rate, ...) gets its own, so new paradigms need no change here.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sepkit.errors import SepkitError
from sepkit.plots import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVES = "curves.png"
SKIP = ("epoch", "step")
Series = dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (steps, values)


def read_logged(run_dir: Path) -> Series:
    """Each logged metric's (steps, values) over every (re)start of the run in ``run_dir``, in step order."""
    versions = sorted(
        (run_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.rpartition("_")[2] or 0)
    )
    points: dict[str, dict[int, float]] = {}
    for path in versions:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if (r.get("step") or "").strip()]
        if not rows:
            continue
        start = min(int(float(r["step"])) for r in rows)
        for steps in points.values():  # this restart logs these steps anew
            for s in [s for s in steps if s >= start]:
                del steps[s]
        for row in rows:
            step = int(float(row["step"]))
            for key, text in row.items():
                value = _number(text)
                if key not in SKIP and value is not None:
                    points.setdefault(key, {})[step] = value
    return {k: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for k, v in points.items() if v}


def curves_figure(series: Series) -> Figure:
    """One panel per metric name (``train/X`` beside ``val/X``): training as a faint line with its running mean,
    validation as points."""
    from matplotlib.figure import Figure

    panels: dict[str, list[str]] = {}
    for key in sorted(series, key=_panel_order):
        panels.setdefault(_panel(key), []).append(key)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.3 * ncols, 2.7 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, keys) in zip(axes, panels.items()):
        for i, key in enumerate(keys):
            steps, values = series[key]
            colour = f"C{i}"
            if key.startswith("val/") or steps.size < 3:
                ax.plot(steps, values, "o-", ms=3, lw=1, color=colour, label=key)
            else:
                ax.plot(steps, values, lw=0.6, alpha=0.35, color=colour)
                ax.plot(steps, running_mean(values), lw=1.3, color=colour, label=key)
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=8)
        if title == "learning rate" and all((series[k][1] > 0).all() for k in keys):
            ax.set_yscale("log")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[-ncols:]:
        ax.set_xlabel("step", fontsize=8)
    return fig


def plot_curves(run_dir: Path) -> Path:
    """Draw ``run_dir/curves.png`` from the run's logs; ``SepkitError`` when it has logged nothing yet."""
    series = read_logged(Path(run_dir))
    if not series:
        raise SepkitError(f"{run_dir}: no logged metrics (logs/version_*/metrics.csv) to plot")
    return save_figure(curves_figure(series), Path(run_dir) / CURVES)


def _panel(key: str) -> str:
    if key.startswith("lr-"):
        return "learning rate"
    head, _, tail = key.partition("/")
    return tail if head in ("train", "val") and tail else key


def _panel_order(key: str) -> tuple[int, str]:
    """Losses first, then the other validation metrics, the other training metrics, the learning rate."""
    panel = _panel(key)
    rank = 0 if panel == "loss" else 1 if key.startswith("val/") else 3 if key.startswith("lr-") else 2
    return rank, key


def running_mean(values: np.ndarray) -> np.ndarray:
    """Mean over a window of a twentieth of the points (at least 1), centred; the ends use what they have."""
    width = max(1, values.size // 20)
    kernel = np.ones(width)
    return np.convolve(values, kernel, "same") / np.convolve(np.ones_like(values), kernel, "same")


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


__all__ = ["CURVES", "plot_curves", "read_logged", "running_mean"]

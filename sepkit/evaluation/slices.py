"""Scores per slice of a test set: each system's means and the model's paired differences, slice by slice.

A test set can label its items in ``items.jsonl`` beside its ``mix/`` folder (the yardstick does):
one line per item with its ``id`` (the mixture's stem) and ``slices``, e.g. ``{"snr": "-5..0 dB",
"noise": "babble"}``. A mean over the whole set hides where a model fails; per slice, with the
paired interval, it shows whether a lead holds on short clips, narrowband input or babble.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sepkit.errors import ManifestError
from sepkit.data.yardstick.plan import label_order
from sepkit.evaluation.compare import Evaluation

ITEMS = "items.jsonl"


def find_slices(mix_dir: Path) -> Path | None:
    """The set's ``items.jsonl`` beside the mixture folder, if there is one."""
    candidate = Path(mix_dir).parent / ITEMS
    return candidate if candidate.is_file() else None


def read_slices(path: Path) -> dict[str, dict[str, str]]:
    """Item id -> its slice labels, from a JSONL file of ``{"id": ..., "slices": {name: label}}`` lines."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such slices file")
    labels: dict[str, dict[str, str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        slices = row.get("slices") if isinstance(row, dict) else None
        if not isinstance(slices, dict) or not isinstance(row.get("id"), str):
            raise ManifestError(f"{path}:{n}: needs an 'id' string and a 'slices' object")
        labels[row["id"]] = {str(k): str(v) for k, v in slices.items()}
    if not labels:
        raise ManifestError(f"{path}: holds no items")
    return labels


def slice_report(result: Evaluation, labels: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One entry per (slice, value): the files in it, every system's means and the model's paired differences."""
    files = sorted(result.rows.get(result.model, {}))
    unlabelled = [f for f in files if f not in labels]
    if unlabelled:
        raise ManifestError(f"{unlabelled[0]}: scored but not in the slices file ({len(unlabelled)} such item(s))")
    keys = list(dict.fromkeys(k for f in files for k in labels[f]))
    report = []
    for key in keys:
        values = sorted({labels[f][key] for f in files if key in labels[f]}, key=label_order)
        for value in values:
            members = [f for f in files if labels[f].get(key) == value]
            sub = dataclasses.replace(
                result, rows={s: {f: r[f] for f in members if f in r} for s, r in result.rows.items()}
            )
            report.append(
                {
                    "slice": key,
                    "value": value,
                    "files": len(members),
                    "means": {s: _means(r) for s, r in sub.rows.items()},
                    "paired": sub.paired(),
                }
            )
    return report


def slice_tables(report: list[dict[str, Any]], model: str) -> str:
    """Markdown per slice: each system's means per value, then the model minus each other system."""
    if not report:
        return ""
    out = []
    for key in dict.fromkeys(r["slice"] for r in report):
        rows = [r for r in report if r["slice"] == key]
        cols = list(next(iter(rows[0]["means"].values())))
        out += [
            f"\nSlice '{key}': means",
            "",
            "| value | files | system | " + " | ".join(cols) + " |",
            "|---|---:|---|" + "---:|" * len(cols),
        ]
        for r in rows:
            for system, means in r["means"].items():
                out.append(
                    f"| {r['value']} | {r['files']} | {system} | " + " | ".join(_fmt(means.get(c)) for c in cols) + " |"
                )
        pcols = list(next(iter(rows[0]["paired"].values()), {}))
        if pcols:
            out += [
                "",
                f"Slice '{key}': {model} minus each system, mean [95 % interval] share of files won",
                "",
                "| value | system | " + " | ".join(pcols) + " |",
                "|---|---|" + "---:|" * len(pcols),
            ]
            for r in rows:
                for system, diffs in r["paired"].items():
                    out.append(f"| {r['value']} | {system} | " + " | ".join(_diff(diffs[c]) for c in pcols) + " |")
    return "\n".join(out) + "\n"


def _means(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    cols = list(dict.fromkeys(c for r in rows.values() for c in r))
    out = {}
    for c in cols:
        values = np.array([r.get(c, math.nan) for r in rows.values()], dtype=np.float64)
        values = values[np.isfinite(values)]
        out[c] = float(values.mean()) if values.size else math.nan
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _diff(d: dict[str, float]) -> str:
    if not d["files"]:
        return "-"
    return f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] {100 * d['wins']:.0f} %"

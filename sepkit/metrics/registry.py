"""Metrics by name, each with the columns it fills and whether it needs a reference.

Every entry is called as ``compute(est, ref, sample_rate) -> {column: value}`` on 1-D signals
(``ref`` is ``None`` for non-intrusive metrics). Entries marked ``improvement`` also get a
``<name>i`` column, ``metric(est, ref) − metric(mix, ref)``, when the mixture is known.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from sepkit.errors import ConfigError
from sepkit.metrics import nonintrusive
from sepkit.metrics import intrusive
from sepkit.metrics._common import MetricWarning
from sepkit.metrics.sisdr import si_sdr

Compute = Callable[[np.ndarray, "np.ndarray | None", int], dict[str, float]]


@dataclass(frozen=True)
class Metric:
    """A named metric: its output columns, whether it needs a reference, whether it has an improvement."""

    name: str
    columns: tuple[str, ...]
    needs_ref: bool
    improvement: bool
    compute: Compute


def _finite_estimates_only(columns: tuple[str, ...], compute: Compute) -> Compute:
    """``compute``, giving NaN in every column (with a warning) for an estimate that holds NaN or infinite
    samples, which no metric defines: a diverged model's output, scored in validation or by ``sepkit evaluate``,
    then shows as NaN instead of stopping the run in PESQ's or BSS-eval's own error."""

    def guarded(est: np.ndarray, ref: np.ndarray | None, sr: int) -> dict[str, float]:
        if not np.isfinite(est).all():
            warnings.warn(
                f"{', '.join(columns)}: undefined for an estimate with NaN or infinite samples",
                MetricWarning,
                stacklevel=2,
            )
            return {column: float("nan") for column in columns}
        return compute(est, ref, sr)

    return guarded


def _single(name: str, fn: Callable[..., float], improvement: bool = False) -> Metric:
    compute = _finite_estimates_only((name,), lambda est, ref, sr: {name: float(fn(est, ref, sr))})
    return Metric(name, (name,), True, improvement, compute)


def _dnsmos_metric() -> Metric:
    columns = tuple(f"dnsmos_{k}" for k in nonintrusive.COLUMNS)

    def compute(est: np.ndarray, ref: np.ndarray | None, sr: int) -> dict[str, float]:
        return {f"dnsmos_{k}": v for k, v in nonintrusive.dnsmos(est, sr).items()}

    return Metric("dnsmos", columns, False, False, _finite_estimates_only(columns, compute))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _single("si_sdr", si_sdr, improvement=True),
        _single("sdr", intrusive.sdr, improvement=True),
        _single("pesq", intrusive.pesq),
        _single("stoi", intrusive.stoi),
        _single("estoi", intrusive.estoi),
        _dnsmos_metric(),
    )
}


def get_metrics(names: str | Iterable[str]) -> list[Metric]:
    """Metrics for comma-separated or listed names, in the order given; ``ConfigError`` on an unknown name."""
    if isinstance(names, str):
        names = names.split(",")
    wanted = [n.strip().lower() for n in names if n.strip()]
    if not wanted:
        raise ConfigError(f"no metric named (choose from {', '.join(METRICS)})")
    for n in wanted:
        if n not in METRICS:
            hint = " (improvements are added when the mixture is given)" if n in ("si_sdri", "sdri") else ""
            raise ConfigError(f"unknown metric {n!r}; choose from {', '.join(METRICS)}{hint}")
    return [METRICS[n] for n in dict.fromkeys(wanted)]


def metric_columns(metrics: Iterable[Metric], with_mix: bool = False) -> list[str]:
    """Output columns in order; ``<name>i`` follows each improvable metric when the mixture is given."""
    cols: list[str] = []
    for m in metrics:
        cols += m.columns
        if with_mix and m.improvement:
            cols.append(f"{m.name}i")
    return cols

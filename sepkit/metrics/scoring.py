"""Scoring estimates against references: one set of signals, one set of files, or many files in parallel.

A *pair* is one row of results: the estimate file(s) of one input (one for enhancement, K for
separation), the reference file(s) in source order, and optionally the mixture. Separated
outputs are matched to references by the best SI-SDR permutation and every metric is then
averaged over the matched sources (and over channels). Files are brought to the reference's
sample rate (the estimate and the mixture are resampled) and cropped to the shortest.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from sepkit.errors import AudioError, ConfigError
from sepkit.metrics._common import MetricWarning, resample
from sepkit.metrics.matching import best_permutation
from sepkit.metrics.registry import Metric, get_metrics, metric_columns

Progress = Callable[[int, int], None]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_LENGTH_TOLERANCE_S = 0.01  # length differences above this are reported


@dataclass(frozen=True)
class ScorePair:
    """One row to score: estimate file(s), reference file(s) in source order (may be empty), mixture."""

    name: str
    ests: tuple[Path, ...]
    refs: tuple[Path, ...] = ()
    mix: Path | None = None


@dataclass
class Scores:
    """Per-row results in input order, column means over rows (NaN ignored) and how many rows each mean uses."""

    columns: list[str]
    rows: list[dict[str, Any]]
    means: dict[str, float]
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def score_signals(
    ests: np.ndarray,
    refs: np.ndarray | None,
    sample_rate: int,
    metrics: str | Iterable[str] | Sequence[Metric],
    mix: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of ``(K, T)`` or ``(K, C, T)`` estimates against ``(N, ...)`` references (K ≥ N), all at one rate.

    With several references, estimates are matched by the best SI-SDR permutation and the
    row gets ``perm`` (1-based estimate index per reference). ``mix`` (``(T,)`` or ``(C, T)``)
    adds ``<metric>i`` improvements. Channels must be equal or one side mono (broadcast).
    """
    ms = _as_metrics(metrics)
    e = _with_channels(ests, 3)
    r = None if refs is None else _with_channels(refs, 3)
    x = None if mix is None else _with_channels(mix, 2)
    if r is None and any(m.needs_ref for m in ms):
        raise ValueError(f"{', '.join(m.name for m in ms if m.needs_ref)} need references")
    channels = _common_channels([a.shape[-2] for a in (e, r, x) if a is not None])
    n = min(a.shape[-1] for a in (e, r, x) if a is not None)
    e = np.broadcast_to(e[..., :n], e.shape[:-2] + (channels, n))
    row: dict[str, Any] = {}
    if r is not None:
        r = np.broadcast_to(r[..., :n], r.shape[:-2] + (channels, n))
        perm = best_permutation(e, r) if e.shape[0] > 1 or r.shape[0] > 1 else np.zeros(1, dtype=int)
        if e.shape[0] > 1:
            row["perm"] = [int(p) + 1 for p in perm]
        e = e[perm]
    if x is not None:
        x = np.broadcast_to(x[..., :n], (channels, n))
    sources = [(k, c) for k in range(e.shape[0]) for c in range(channels)]
    for m in ms:
        values = [m.compute(e[k, c], None if r is None else r[k, c], sample_rate) for k, c in sources]
        for col in m.columns:
            row[col] = float(np.mean([v[col] for v in values]))
        if x is not None and r is not None and m.improvement:
            base = [m.compute(x[c], r[k, c], sample_rate)[m.name] for k, c in sources]
            row[f"{m.name}i"] = row[m.name] - float(np.mean(base))
    return row


def score_pair(pair: ScorePair, metrics: str | Iterable[str] | Sequence[Metric]) -> tuple[dict[str, Any], list[str]]:
    """Read, resample and score one pair of files: its row (``name`` first) and the warnings raised on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ests, refs, mix, rate, notes = _load_pair(pair)
        row = score_signals(ests, refs, rate, metrics, mix)
    notes += [str(w.message) for w in caught if issubclass(w.category, (MetricWarning, RuntimeWarning))]
    return {"name": pair.name, **row}, [f"{pair.name}: {n}" for n in dict.fromkeys(notes)]


def score_pairs(
    pairs: Sequence[ScorePair], metrics: str | Iterable[str], jobs: int = 1, progress: Progress | None = None
) -> Scores:
    """Score many pairs, in ``jobs`` worker processes when ``jobs > 1``; rows keep the order of ``pairs``.

    Workers are spawned (not forked, which is unsafe once torch has started threads) and run
    single-threaded, so scripts that call this with ``jobs > 1`` need an
    ``if __name__ == "__main__":`` guard. ``progress(done, total)`` is called after each pair.
    """
    ms = get_metrics(metrics)
    names = [m.name for m in ms]
    missing = [p.name for p in pairs if not p.refs]
    if missing and any(m.needs_ref for m in ms):
        needy = ", ".join(m.name for m in ms if m.needs_ref)
        raise ConfigError(f"{missing[0]}: no reference files, which {needy} need (only dnsmos works without)")
    columns = metric_columns(ms, with_mix=any(p.mix is not None for p in pairs))
    results: list[tuple[dict[str, Any], list[str]] | None] = [None] * len(pairs)
    if jobs <= 1 or len(pairs) <= 1:
        for i, pair in enumerate(pairs):
            results[i] = score_pair(pair, names)
            if progress:
                progress(i + 1, len(pairs))
    else:
        with single_threaded_pool(min(jobs, len(pairs))) as pool:
            futures = {pool.submit(score_pair, pair, names): i for i, pair in enumerate(pairs)}
            for done, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(done, len(pairs))
    rows = [res[0] for res in results if res is not None]
    for row in rows:
        for col in columns:
            row.setdefault(col, float("nan"))
    means, counts = summarize(rows, columns)
    return Scores(columns, rows, means, counts, [w for res in results if res is not None for w in res[1]])


def summarize(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Mean of each column over rows, ignoring NaN, and the number of rows that have a value."""
    means, counts = {}, {}
    for col in columns:
        vals = np.array([row.get(col, np.nan) for row in rows], dtype=np.float64)
        ok = np.isfinite(vals)
        counts[col] = int(ok.sum())
        means[col] = float(vals[ok].mean()) if ok.any() else float("nan")
    return means, counts


def _as_metrics(metrics: str | Iterable[str] | Sequence[Metric]) -> list[Metric]:
    items = list(metrics) if not isinstance(metrics, str) else [metrics]
    if items and all(isinstance(m, Metric) for m in items):
        return items  # type: ignore[return-value]
    return get_metrics(metrics)  # type: ignore[arg-type]


def _with_channels(a: np.ndarray, ndim: int) -> np.ndarray:
    """Add a channel axis before time when it is missing: ``(K, T) -> (K, 1, T)``, ``(T,) -> (1, T)``."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == ndim - 1:
        a = a[..., None, :]
    if a.ndim != ndim or a.shape[-1] == 0:
        raise ValueError(f"unexpected signal shape {a.shape}")
    return a


def _common_channels(counts: list[int]) -> int:
    wider = set(counts) - {1}
    if len(wider) > 1:
        raise ValueError(f"channel counts {sorted(set(counts))} differ and are not mono")
    return wider.pop() if wider else 1


def _load_pair(pair: ScorePair) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int, list[str]]:
    """Estimates ``(K, C, T)``, references, mixture at the references' rate (else the first estimate's)."""
    from sepkit.audio.io import read_audio

    files = [*pair.ests, *pair.refs, *([pair.mix] if pair.mix else [])]
    loaded = [read_audio(p) for p in files]
    rate = loaded[len(pair.ests)][1] if pair.refs else loaded[0][1]
    audio = [resample(a.astype(np.float64), sr, rate) for a, sr in loaded]
    roles = ["estimate"] * len(pair.ests) + ["reference"] * len(pair.refs) + ["mixture"] * (pair.mix is not None)
    channels = {a.shape[0] for a in audio}
    if len(channels - {1}) > 1:
        detail = ", ".join(f"{role} {p.name}: {a.shape[0]}" for role, p, a in zip(roles, files, audio))
        raise AudioError(f"{pair.ests[0]}: channel counts differ and are not mono ({detail})")
    lengths = [a.shape[1] for a in audio]
    notes = [f"estimate {p.name} is silent" for p, a in zip(pair.ests, audio) if not a.any()]
    if max(lengths) - min(lengths) > _LENGTH_TOLERANCE_S * rate:
        detail = ", ".join(f"{role} {p.name} {n / rate:.2f} s" for role, p, n in zip(roles, files, lengths))
        notes.append(f"lengths differ ({detail}); scored the first {min(lengths) / rate:.2f} s")
    n, c = min(lengths), max(channels)
    audio = [np.broadcast_to(a[:, :n], (c, n)) for a in audio]
    k = len(pair.ests)
    refs = np.stack(audio[k : k + len(pair.refs)]) if pair.refs else None
    mix = audio[-1] if pair.mix else None
    return np.stack(audio[:k]), refs, mix, rate, notes


@contextmanager
def single_threaded_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """Spawned worker processes (fork is unsafe once torch has started threads), each on one core."""
    with _single_threaded_children():  # held while in use: workers start on demand, at submit
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Set the BLAS/OpenMP thread variables to 1 while worker processes start (they read them at import)."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _init_worker() -> None:
    """Keep each worker on one core: torch's intra- and inter-op pools."""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once work has started
        pass

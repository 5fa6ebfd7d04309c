"""``sepkit score``: metrics of estimate files against reference files, as a table, CSV and JSON.

Files are paired by name (see ``sepkit.metrics.pairing``): ``<stem>.wav`` for enhancement,
``<stem>_s1.wav, <stem>_s2.wav, ...`` for separation, with references under the same names or
in LibriMix ``s1/, s2/`` folders. Estimates are resampled to the reference's rate; multichannel
files are scored channel by channel and averaged.
"""

from __future__ import annotations

import csv
import json
import math
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from sepkit.atomic import AtomicFile
from sepkit.cli.app import app, fail
from sepkit.cli.progress import progress_bar

DEFAULT_WITH_REF = "si_sdr,sdr,pesq,stoi,estoi"
DEFAULT_WITHOUT_REF = "dnsmos"
_SHOWN_WARNINGS = 20


@app.command()
def score(
    est: Path = typer.Option(..., "--est", help="Folder of estimates: <stem>.wav, or <stem>_s1.wav, <stem>_s2.wav..."),
    ref: Optional[Path] = typer.Option(None, "--ref", help="Folder of references: same names, or s1/, s2/ folders."),
    mix: Optional[Path] = typer.Option(None, "--mix", help="Folder of <stem>.wav mixtures: adds si_sdri and sdri."),
    metrics: Optional[str] = typer.Option(
        None,
        "--metrics",
        help=f"Comma-separated: si_sdr,sdr,pesq,stoi,estoi,dnsmos "
        f"[default: {DEFAULT_WITH_REF} with --ref, {DEFAULT_WITHOUT_REF} without].",
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write per-file rows and the means as JSON."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write per-file rows as CSV."),
) -> None:
    """Score estimates against references (or DNSMOS alone, without references).

    Files pair by name. Separated outputs <stem>_s1, <stem>_s2, ... are matched to the
    references by the best SI-SDR permutation and their scores averaged. Estimates and
    mixtures are resampled to the reference's rate and everything is cropped to the shortest
    file; multichannel files are scored per channel and averaged.
    """
    from sepkit.metrics import get_metrics, pair_folders, score_pairs

    if jobs < 1:
        fail(f"--jobs must be at least 1, got {jobs}")
    chosen = get_metrics(metrics or (DEFAULT_WITH_REF if ref is not None else DEFAULT_WITHOUT_REF))
    if ref is None and any(m.needs_ref for m in chosen):
        fail(f"--ref is needed for {', '.join(m.name for m in chosen if m.needs_ref)} (only dnsmos works without it)")
    for path, flag in ((json_out, "--json"), (csv_out, "--csv")):
        if path is not None and path.is_dir():
            fail(f"{path}: is a folder, expected a file name for {flag}")
    pairs, unscored_refs = pair_folders(est, ref, mix)
    with _delayed_progress(len(pairs)) as tick:
        scores = score_pairs(pairs, [m.name for m in chosen], jobs=jobs, progress=tick)
    for line in scores.warnings[:_SHOWN_WARNINGS]:
        typer.echo(f"sepkit: warning: {line}", err=True)
    if len(scores.warnings) > _SHOWN_WARNINGS:
        typer.echo(f"sepkit: warning: ... and {len(scores.warnings) - _SHOWN_WARNINGS} more warnings", err=True)
    fields = ["name", *(["perm"] if any("perm" in r for r in scores.rows) else []), *scores.columns]
    if csv_out is not None:
        _write_text(csv_out, _csv_text(scores.rows, fields))
    if json_out is not None:
        doc = {
            "metrics": scores.columns,
            "count": len(scores.rows),
            "means": scores.means,
            "counts": scores.counts,
            "rows": scores.rows,
            "warnings": scores.warnings,
        }
        _write_text(json_out, json.dumps(_json_safe(doc), indent=2) + "\n")
    _print_table(scores.columns, scores.means, scores.counts, len(scores.rows), unscored_refs)


def _print_table(columns: list[str], means: dict[str, float], counts: dict[str, int], n: int, unscored: int) -> None:
    """The means as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    caption = f"{unscored} reference(s) without an estimate were not scored" if unscored else None
    table = Table(title=f"sepkit score: {n} file(s)", caption=caption)
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("n", justify="right")
    for col in columns:
        table.add_row(col, "nan" if math.isnan(means[col]) else f"{means[col]:.3f}", str(counts[col]))
    Console().print(table)


@contextmanager
def _delayed_progress(total: int, delay_s: float = 1.0) -> Iterator[Callable[[int, int], None]]:
    """A ``tick(done, total)`` callback whose progress bar appears only once scoring has taken ``delay_s``."""
    bar = progress_bar("files")
    task = bar.add_task("scoring", total=total)
    timer = threading.Timer(delay_s, bar.start)
    timer.daemon = True
    timer.start()
    try:
        yield lambda done, of: bar.update(task, completed=done, total=of)
    finally:
        timer.cancel()
        timer.join()
        bar.stop()


def _csv_text(rows: list[dict[str, Any]], fields: list[str]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        out = dict(row)
        if "perm" in out:
            out["perm"] = " ".join(str(p) for p in out["perm"])
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in out.items()})
    return buf.getvalue()


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null, since JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file renamed into place, so a failed run leaves no partial file."""
    from sepkit.errors import OutputError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(path) as out, open(out.path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc

"""``sepkit evaluate``: a model on a test set beside the unprocessed input and baselines, one run."""

from __future__ import annotations

import contextlib
import json
import shlex
import tempfile
from pathlib import Path
from typing import Optional

import typer

from sepkit.cli.app import app, fail, state
from sepkit.cli.progress import progress_bar


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="Shipped model name or exported model folder."),
    mix: Path = typer.Option(..., "--mix", help="Folder of test mixtures <stem>.wav."),
    ref: Path = typer.Option(..., "--ref", help="References: <stem>.wav, or s1/, s2/ folders for separation."),
    baseline: list[str] = typer.Option(
        [],
        "--baseline",
        help="Run beside the model (repeatable): noisereduce, "
        'rnnoise, deepfilternet3 (pip install "sepkit[peers]"), or another model '
        "of the same task (shipped name or folder).",
    ),
    metrics: str = typer.Option("si_sdr,pesq,estoi,dnsmos", "--metrics", help="Comma-separated metrics."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Scoring worker processes."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="Keep every system's outputs here."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the means per system as JSON."),
    update_card: bool = typer.Option(False, "--update-card", help="Write the scores into the model's CARD.md."),
    test_name: Optional[str] = typer.Option(None, "--test-name", help="How the card names the test set."),
    slices: Optional[Path] = typer.Option(
        None,
        "--slices",
        help="Item labels (items.jsonl) to score per slice "
        "[default: items.jsonl beside --mix's folder, when there is one].",
    ),
    report: Optional[Path] = typer.Option(
        None,
        "--report",
        help="Write an HTML report into this folder: tables, "
        "SI-SDRi against input SNR, spectrograms and audio of chosen files.",
    ),
    report_files: list[str] = typer.Option(
        [],
        "--report-files",
        help="Also show these mixtures in the report (repeatable; besides the best, median and worst by SI-SDRi).",
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Run and score every system again, even one whose scores are cached for the same weights, package "
        "versions, code, metrics and test set (as --work-dir and --report do: they need the outputs).",
    ),
) -> None:
    """Score a model beside baselines (noisereduce, RNNoise, DeepFilterNet3, other models) on one test set, one run."""
    from sepkit.evaluation import evaluate as run_evaluation
    from sepkit.evaluation import write_test_scores
    from sepkit.evaluation.score_cache import ScoreCache
    from sepkit.evaluation.slices import find_slices, read_slices, slice_report, slice_tables
    from sepkit.metrics.fingerprint import SHOWN
    from sepkit.pretrained import resolve_model_dir

    if jobs < 1:
        fail(f"--jobs must be at least 1, got {jobs}")
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    slices = slices or find_slices(mix)
    labels = read_slices(slices) if slices is not None else None  # a bad file fails before any work
    command = "sepkit " + " ".join(shlex.quote(a) for a in state.argv)
    staging: contextlib.AbstractContextManager[Optional[Path]] = contextlib.nullcontext()
    if report is not None:
        from sepkit.atomic import staged_folder
        from sepkit.evaluation.report import check_request, write_report

        named = check_request(report, report_files, mix, names)  # before any model runs
        staging = staged_folder(report)
    bar = progress_bar("files")
    tasks: dict[str, int] = {}

    def tick(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with staging as report_dir, tempfile.TemporaryDirectory(prefix="sepkit-eval-") as tmp:
        with bar:
            reuse = not (fresh or work_dir is not None or report is not None)
            result = run_evaluation(
                model, mix, ref, work_dir or Path(tmp), baseline, names, jobs, device, tick, ScoreCache(), reuse
            )
        diffs = result.paired()
        by_slice = slice_report(result, labels) if labels is not None else None
        if report_dir is not None:  # while the outputs it plays are still there
            write_report(report_dir, result, diffs, command, test_name or mix.parent.name, named, by_slice)
    typer.echo(f"{result.files} test files, audio digest {result.test_set[:SHOWN]}")
    if result.reused:
        typer.echo(
            f"reused the cached scores of {', '.join(result.reused)} (same weights, packages, code, metrics and "
            f"test set; no RTF for them; --fresh runs them again)"
        )
    typer.echo(result.table(), nl=False)
    paired = result.paired_table(diffs)
    if paired:
        typer.echo("\nPer-file differences: mean [95 % bootstrap interval over files], share of files the model wins")
        typer.echo(paired, nl=False)
    if by_slice:
        typer.echo(f"\nPer slice (labels from {slices}):")
        typer.echo(slice_tables(by_slice, result.model), nl=False)
    if json_out is not None:
        from sepkit.cli.score import _json_safe, _write_text

        doc = {
            "model": result.model,
            "files": result.files,
            "audio_seconds": result.audio_seconds,
            "test_set_digest": result.test_set,
            "means": result.means,
            "seconds": result.seconds,
            "paired": diffs,
        }
        if by_slice is not None:
            doc["slices"] = by_slice
        _write_text(json_out, json.dumps(_json_safe(doc), indent=2) + "\n")
    if update_card:
        import torch

        where = torch.cuda.get_device_name() if device != "cpu" and torch.cuda.is_available() else _cpu_name()
        path = write_test_scores(resolve_model_dir(model), result, test_name or str(mix.parent), command, where)
        typer.echo(f"updated {path}")
    if report is not None:
        typer.echo(f"report: {report / 'index.html'}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU ({line.split(':', 1)[1].strip()})"
    except OSError:
        pass
    import platform

    return f"CPU ({platform.processor() or platform.machine()})"

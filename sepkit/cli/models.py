"""``sepkit models``: the shipped models, read from their cards."""

from __future__ import annotations

import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sepkit.cli.app import app
from sepkit.pretrained import model_roots, read_card, read_config, shipped_models


def _fmt_scores(scores: object) -> str:
    if not isinstance(scores, dict):
        return ""
    return ", ".join(f"{k} {v}" for k, v in scores.items())


def card_scores(meta: dict, name: str) -> str:
    """The model's test-set scores from its card (``sepkit evaluate --update-card``), else its validation scores."""
    test = meta.get("test_scores")
    if isinstance(test, dict) and isinstance(test.get(name), dict):
        return f"test ({meta.get('test_set', '?')}): {_fmt_scores(test[name])}"
    return f"validation: {_fmt_scores(meta.get('scores'))}" if meta.get("scores") else ""


@app.command()
def models() -> None:
    """List shipped models: task, sample rate, size, training data and scores."""
    table = Table(show_lines=False)
    for col in ("name", "task", "rate", "size", "params", "trained on", "scores"):
        table.add_column(col)
    found = shipped_models()
    for name, path in found.items():
        config = read_config(path)
        meta, _ = read_card(path)
        size_mb = (path / "model.safetensors").stat().st_size / 1e6 if (path / "model.safetensors").exists() else 0.0
        table.add_row(
            name,
            config.task + (f" ({config.n_src} src)" if config.task == "separate" else ""),
            f"{config.sample_rate // 1000} kHz" if config.sample_rate % 1000 == 0 else str(config.sample_rate),
            f"{size_mb:.1f} MB",
            str(meta.get("parameters", "")),
            str(meta.get("training_data", "")),
            card_scores(meta, config.name or name),
        )
    console = Console(width=200)
    if not found:
        console.print(f"no shipped models found (searched {', '.join(str(root) for root in model_roots())})")
        return
    console.print(table)


@app.command()
def retire(
    model: str = typer.Argument(..., help="The shipped name or model folder being replaced, e.g. enhance-default."),
    archive: Path = typer.Argument(..., help="Folder to keep it in, e.g. recipes/enhance/retired."),
    tag: str = typer.Option(..., "--tag", help="Suffix of its archive name, e.g. stage20 -> enhance-default-stage20."),
    replaced_by: str = typer.Option(
        ..., "--replaced-by", help="What replaces it, for its card, e.g. 'stage 21 (recipes/enhance/x.yaml)'."
    ),
    date: str = typer.Option("", "--date", help="Date of the replacement (default: today, YYYY-MM-DD)."),
    repoint: list[Path] = typer.Option(
        [], "--repoint", help="A recipe config whose init.from names MODEL: point it at the archive copy (repeatable)."
    ),
) -> None:
    """Keep a shipped model that a new one replaces: copy it to ARCHIVE renamed, its card marked not shipped.

    Configs that warm-started from it must then name the archive folder in init.from (--repoint does it). The
    shipped folder itself is left for the new export to replace.
    """
    from sepkit.retire import retire_model

    when = date or datetime.date.today().isoformat()
    print(retire_model(model, archive, tag, replaced_by, when, repoint), flush=True)

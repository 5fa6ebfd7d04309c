"""``sepkit train`` and ``sepkit export``: run a recipe config, export a training checkpoint."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from sepkit.cli.app import app, fail


@app.command()
def train(
    config: Optional[Path] = typer.Argument(None, help="Recipe config (YAML)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="Overrides as key.path=value (values are YAML)."),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Continue from output_dir/checkpoints/last.ckpt when it exists."
    ),
    plot_only: Optional[Path] = typer.Option(
        None, "--plot-only", help="Only redraw RUN_DIR/curves.png from the run's logs (no CONFIG, no training)."
    ),
) -> None:
    """Train a model from a recipe config, resume it after a stop, and export the best checkpoint.

    Every run draws OUTPUT_DIR/curves.png (all logged metrics against step) and redraws it at each validation.
    """
    if plot_only is not None:
        if config is not None:
            fail("--plot-only RUN_DIR takes no CONFIG")
        if not plot_only.is_dir():
            fail(f"{plot_only}: no such run folder")
        from sepkit.train.curves import plot_curves

        print(plot_curves(plot_only), flush=True)
        return
    if config is None:
        fail("give a CONFIG to train, or --plot-only RUN_DIR")
    from sepkit.train import load_config
    from sepkit.train import train as run

    cfg = load_config(config, overrides or [])
    command = shlex.join(["sepkit", "train", str(config), *(overrides or [])])
    exported = run(cfg, resume=resume, command=command)
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank == 0:  # under DDP every process returns here; one prints
        print(exported, flush=True)


@app.command("export")
def export(
    checkpoint: Path = typer.Argument(..., help="A training checkpoint (.ckpt) written by sepkit train."),
    out_dir: Path = typer.Argument(..., help="Folder for the model (model.safetensors, config.json, CARD.md)."),
    inference_only: Optional[bool] = typer.Option(
        None, "--inference-only/--whole",
        help="Keep only the weights inference runs (cae_mae: MAE encoder + CAE decoder), or the whole network; "
             "default: the config's export.inference_only."),
) -> None:
    """Export a training checkpoint as a model folder that sepkit enhance/separate and sepkit.load read."""
    from sepkit.train.export import export_checkpoint

    print(export_checkpoint(checkpoint, out_dir, inference_only=inference_only), flush=True)


@app.command("config")
def show_config(
    config: Path = typer.Argument(..., help="Recipe config (YAML)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="Overrides as key.path=value."),
    get: Optional[str] = typer.Option(None, "--get", help="Print only this dotted key's value (for scripts)."),
) -> None:
    """Print a recipe config as training would see it: bases merged, overrides and ${references} applied."""
    from sepkit.errors import ConfigError
    from sepkit.train.config import dump_config, load_config, lookup

    cfg = load_config(config, overrides or [])
    if get is None:
        print(dump_config(cfg), end="")
        return
    value = lookup(cfg, get)
    if value is None:
        raise ConfigError(f"{config}: {get} is not set")
    print(dump_config(value).strip() if isinstance(value, (dict, list)) else value)

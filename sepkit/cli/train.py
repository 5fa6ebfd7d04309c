"""``sepkit train`` and ``sepkit export``: run a recipe config, export a training checkpoint."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from sepkit.cli.app import app, fail
from sepkit.pretrained import CONFIG_FILE


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
    source: str = typer.Argument(
        ...,
        help="A training checkpoint (.ckpt) written by sepkit train; with --format onnx "
        "also a shipped model name or a model folder.",
    ),
    out_dir: Path = typer.Argument(
        ..., help="Folder for the model (model.safetensors or model.onnx, config.json, CARD.md)."
    ),
    fmt: str = typer.Option(
        "safetensors",
        "--format",
        help="safetensors: the pretrained format sepkit.load reads; "
        "onnx: a graph from waveform to waveform (STFT inside) for onnxruntime and --backend onnx.",
    ),
    inference_only: Optional[bool] = typer.Option(
        None,
        "--inference-only/--whole",
        help="Keep only the weights inference runs (cae_mae: MAE encoder + CAE decoder), or the whole network; "
        "default: the config's export.inference_only.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing ONNX export folder."),
    name: Optional[str] = typer.Option(
        None,
        "--name",
        help="The model's name in config.json (default: the config's export.name), e.g. to "
        "evaluate two checkpoints of one run side by side.",
    ),
    average: Optional[list[Path]] = typer.Option(
        None,
        "--average",
        help="Another checkpoint of the same run, or a model folder of the same network, e.g. the one the run "
        "started from (repeatable): export the mean of its weights and SOURCE's.",
    ),
) -> None:
    """Export a training checkpoint as a model folder that sepkit enhance/separate and sepkit.load read, or any
    enhancer or separator as ONNX."""
    if fmt == "onnx":
        if average:
            fail("--average needs --format safetensors (export the average first, then that folder to ONNX)")
        from sepkit.deploy.onnx_export import export_onnx

        print(export_onnx(source, out_dir, force=force, inference_only=inference_only, name=name), flush=True)
        return
    if fmt != "safetensors":
        fail(f"--format must be safetensors or onnx, not {fmt!r}")
    if not Path(source).is_file():
        fail(
            f"{source}: not a checkpoint file: safetensors export takes a training checkpoint (a model folder or "
            f"shipped name is already in that format; --format onnx exports one to ONNX)"
        )
    from sepkit.train.export import export_checkpoint

    for path in average or []:
        if not path.is_file() and not (path / CONFIG_FILE).is_file():
            fail(f"--average {path}: neither a checkpoint file nor a model folder")
    exported = export_checkpoint(source, out_dir, inference_only=inference_only, name=name, average=average)
    print(exported, flush=True)


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

"""``sepkit personalize``: adapt an enhancer to one speaker from a folder of their noisy recordings."""

from __future__ import annotations

import logging
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import typer

from sepkit.cli.app import app, state
from sepkit.cli.progress import progress_bar


def _step_bar(total: int) -> Any:
    """A Lightning callback that shows training steps (and the loss) on a progress bar."""
    import lightning.pytorch as pl

    class StepBar(pl.Callback):
        def __init__(self) -> None:
            self.bar = progress_bar()
            self.task: Any = None

        def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.bar.start()
            self.task = self.bar.add_task("personalising", total=total, completed=trainer.global_step)

        def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            loss = trainer.callback_metrics.get("train/loss")
            text = f"personalising (loss {float(loss):.2f})" if loss is not None else "personalising"
            self.bar.update(self.task, completed=trainer.global_step, description=text)

        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            score = trainer.callback_metrics.get("val/si_sdri")
            if score is not None and self.task is not None and not trainer.sanity_checking:
                self.bar.console.print(f"step {trainer.global_step}: held-out PseudoSE SI-SDRi {float(score):.2f} dB")

        def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
            self.bar.stop()

    return StepBar()


@app.command()
def personalize(
    noisy_dir: Path = typer.Argument(..., help="Folder of one speaker's noisy recordings (any format, any rate)."),
    out: Path = typer.Option(..., "--out", help="Model folder to create (checkpoints go into OUT/training)."),
    base: str = typer.Option("enhance-default", "--base", help="Enhancer to start from: shipped name or model folder."),
    method: str = typer.Option("pseudose", "--method", help="pseudose or cm (contrastive mixtures)."),
    purify: bool = typer.Option(
        False,
        "--purify/--no-purify",
        help="Purify training with a segmental SNR estimator: the noisy frames of the "
        "recordings teach less (how: --purify-form).",
    ),
    snr_model: str = typer.Option("snr-estimator", "--snr-model", help="Segmental SNR estimator for --purify."),
    purify_form: str = typer.Option(
        "target",
        "--purify-form",
        help="How --purify uses the estimates: target (train towards the recording where "
        "it is clean, the estimator's speech estimate where not), frames (the "
        "papers' frame-weighted loss) or energy (an energy-weighted SNR).",
    ),
    noise: Optional[str] = typer.Option(
        None,
        "--noise",
        help="Noise to inject: a folder of noise recordings or a noise manifest (.jsonl) [default: $SEPKIT_NOISE].",
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    steps: int = typer.Option(500, "--steps", help="Training steps (rerun with more to continue a finished run)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Premixtures per step."),
    lr: float = typer.Option(1e-4, "--lr", help="Learning rate (Adam)."),
    validate_every: int = typer.Option(
        50, "--validate-every", help="Steps between validations on held-out recordings."
    ),
) -> None:
    """Personalise an enhancer to one speaker from their noisy recordings alone (PseudoSE or contrastive
    mixtures, optionally with data purification). Rerunning the same command resumes a stopped run."""
    from sepkit.train.personalize_job import PersonalizeOptions
    from sepkit.train.personalize_job import personalize as run

    opts = PersonalizeOptions(
        noisy_dir=noisy_dir,
        out=out,
        base=base,
        method=method,
        purify=purify,
        snr_model=snr_model,
        purify_form=purify_form,
        noise=noise,
        device=device,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        validate_every=validate_every,
    )
    if not state.debug:  # Lightning's start-up chatter would bury the progress bar
        import lightning.pytorch  # noqa: F401  (sets its loggers' levels on import; ours must come after)

        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
        logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="lightning")
    command = "sepkit " + shlex.join(state.argv) if state.argv else "sepkit personalize"
    model_dir = run(opts, command=command, callbacks=[_step_bar(steps)])
    print(f"personalised model: use it with sepkit enhance --model {model_dir}", file=sys.stderr, flush=True)
    print(model_dir, flush=True)

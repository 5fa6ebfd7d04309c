"""Callbacks that put into every checkpoint what an exact resume and the model card need.

``RestoreRNG`` saves the global random states (torch, CUDA, numpy, Python) and puts them back
when training resumes, so dropout and any augmentation drawing from them continue as if the
run had never stopped. ``RunRecord`` keeps the latest validation scores, the accumulated
training time (wall clock, and CPU time of the training process without validation), the device and the
command, and logs the two times as ``time/train_hours`` and ``time/cpu_hours`` at each validation;
``CpuBudget`` stops a run at the first validation past a CPU-time budget (equal-budget comparisons). Everything is stored as tensors or plain Python
values so that checkpoints load with ``torch.load(weights_only=True)``. ``TrainingCurves``
redraws the run's ``curves.png`` at every validation. ``StopOnNonFinite`` ends a run at its first NaN or
infinite training loss or weight, before a checkpoint can store the weights that step spoilt.
"""

from __future__ import annotations

import platform
import random
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger

from sepkit.errors import ConfigError, SepkitError, TrainingError
from sepkit.models.base import first_non_finite
from sepkit.train.curves import plot_curves

RNG_KEY = "sepkit_rng"
RECORD_KEY = "sepkit_run"


def rng_states() -> dict[str, Any]:
    """The global random states as tensors and plain lists."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, key.tolist(), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    torch.set_rng_state(states["torch"])
    kind, key, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class RestoreRNG(pl.Callback):
    """Save the global RNG states with each checkpoint; restore them when a resumed run starts training."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[RNG_KEY] = rng_states()

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._pending = checkpoint.get(RNG_KEY)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Applied here, after the sanity check and the loaders' setup, just before the first step.
        if self._pending is not None:
            set_rng_states(self._pending)
            self._pending = None


def device_name(device: torch.device, world_size: int = 1) -> str:
    """The GPU's name or the CPU model (from /proc/cpuinfo), with the process count when more than one."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.is_file():
            for line in cpuinfo.read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        name = f"{name} (CPU)"
    return f"{world_size} x {name}" if world_size > 1 else name


class RunRecord(pl.Callback):
    """Store the latest validation scores and their step, training wall and CPU seconds (summed over resumes),
    device and command in each checkpoint, and log both times at every validation.

    CPU time is ``time.process_time()`` of the training process (every thread of it) with validation left out;
    data-loader worker processes are not in it, so ``data.num_workers: 0`` makes it the whole training cost.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.device = ""
        self._offset = 0.0
        self._cpu_offset = 0.0
        self._start: float | None = None
        self._cpu_start: float | None = None
        self._validation_cpu = 0.0
        self._validation_started: float | None = None
        self._scores: dict[str, float] = {}
        self._scores_step: int | None = None

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        record = checkpoint.get(RECORD_KEY, {})
        self._offset = float(record.get("train_seconds", 0.0))
        self._cpu_offset = float(record.get("cpu_seconds", 0.0))
        self._scores = dict(record.get("val", {}))
        self._scores_step = record.get("val_step")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()
        self._cpu_start = time.process_time()
        self.device = device_name(trainer.strategy.root_device, trainer.world_size)

    def seconds(self) -> float:
        """Training time so far, including the runs this one resumed."""
        return self._offset + (time.monotonic() - self._start if self._start is not None else 0.0)

    def cpu_seconds(self) -> float:
        """CPU time of training so far (validation excluded), including the runs this one resumed."""
        if self._cpu_start is None:
            return self._cpu_offset
        running = self._validation_started is not None
        now = self._validation_started if running else time.process_time()
        return self._cpu_offset + (now - self._cpu_start) - self._validation_cpu

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._cpu_start is not None:
            self._validation_started = time.process_time()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._cpu_start is not None and not trainer.sanity_checking:
            pl_module.log("time/cpu_hours", self.cpu_seconds() / 3600.0, sync_dist=True)
            pl_module.log("time/train_hours", self.seconds() / 3600.0, sync_dist=True)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._validation_started is not None:
            self._validation_cpu += time.process_time() - self._validation_started
            self._validation_started = None
        if not trainer.sanity_checking:
            self._scores = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
            self._scores_step = int(trainer.global_step)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # A periodic checkpoint is written at the end of its training step, before that step's validation:
        # its scores are the latest validation's, and val_step says which step that was.
        per_epoch = trainer.num_training_batches / trainer.accumulate_grad_batches
        checkpoint[RECORD_KEY] = {
            "val": dict(self._scores),
            "val_step": self._scores_step,
            "epochs": round(trainer.global_step / per_epoch, 3) if 0 < per_epoch < float("inf") else None,
            "train_seconds": self.seconds(),
            "cpu_seconds": self.cpu_seconds(),
            "device": self.device,
            "precision": str(trainer.precision),
            "command": self.command,
        }


class CpuBudget(pl.Callback):
    """Stop training at the first validation after ``hours`` of training CPU time (``RunRecord.cpu_seconds``), so
    that models of different cost are compared at an equal budget; the last point is a measured one."""

    def __init__(self, record: RunRecord, hours: float) -> None:
        if hours <= 0:
            raise ConfigError(f"budget.cpu_hours must be positive, not {hours}")
        self.record = record
        self.hours = float(hours)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and self.record.cpu_seconds() >= self.hours * 3600.0:
            trainer.should_stop = True


class StopOnNonFinite(pl.Callback):
    """Raise ``TrainingError`` at the first non-finite training loss, or at the first step that leaves a weight
    NaN or infinite with a finite loss (an infinite gradient: clipping it by its norm gives NaN). Lightning runs
    checkpoint callbacks after the others, so the spoilt weights never reach ``last.ckpt`` and the run resumes
    from its last good one."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss.detach()).all()):
            raise TrainingError(
                f"training loss is {loss.detach().float().mean().item()} at step {trainer.global_step}: "
                "stopped before a checkpoint could store the spoilt weights; the last checkpoint is intact "
                "(lower the learning rate, or find the batch, before resuming)"
            )
        spoilt = first_non_finite(pl_module.named_parameters())
        if spoilt is not None:
            raise TrainingError(
                f"weight {spoilt} is NaN or infinite after step {trainer.global_step} with a finite loss (an "
                "infinite gradient?): stopped before a checkpoint could store it; the last checkpoint is intact"
            )


class TrainingCurves(pl.Callback):
    """Redraw ``run_dir/curves.png`` from the CSV logs after every validation and when training ends, so a
    stopped run still has its curves (``sepkit.train.curves``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._draw(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._draw(trainer)

    def _draw(self, trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                logger.save()  # write what is buffered: the validation just logged
        try:
            plot_curves(self.run_dir)
        except SepkitError:  # nothing logged yet
            pass

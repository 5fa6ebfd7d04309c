"""Callbacks that put into every checkpoint what an exact resume and the model card need.

``RestoreRNG`` saves the global random states (torch, CUDA, numpy, Python) and puts them back
when training resumes, so dropout and any augmentation drawing from them continue as if the
run had never stopped. ``RunRecord`` keeps the latest validation scores, the accumulated
training time, the device and the command. Everything is stored as tensors or plain Python
values so that checkpoints load with ``torch.load(weights_only=True)``. ``TrainingCurves``
redraws the run's ``curves.png`` at every validation.
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

from sepkit.errors import SepkitError
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
    """Store validation scores, training seconds (summed over resumes), device and command in each checkpoint."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.device = ""
        self._offset = 0.0
        self._start: float | None = None

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._offset = float(checkpoint.get(RECORD_KEY, {}).get("train_seconds", 0.0))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()
        self.device = device_name(trainer.strategy.root_device, trainer.world_size)

    def seconds(self) -> float:
        """Training time so far, including the runs this one resumed."""
        return self._offset + (time.monotonic() - self._start if self._start is not None else 0.0)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        scores = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        per_epoch = trainer.num_training_batches / trainer.accumulate_grad_batches
        checkpoint[RECORD_KEY] = {
            "val": scores,
            "epochs": round(trainer.global_step / per_epoch, 3) if 0 < per_epoch < float("inf") else None,
            "train_seconds": self.seconds(),
            "device": self.device,
            "precision": str(trainer.precision),
            "command": self.command,
        }


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

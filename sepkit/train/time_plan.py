"""A learning-rate schedule planned over a wall-clock budget (``optim.scheduler.total_steps: max_time``).

A linear or cosine decay needs its total step count before training, but on an unfamiliar machine (a GPU
lent for ten minutes, a loaded CPU) the step rate is unknown. This callback measures it over the warm-up,
where the schedule does not depend on the total yet (at least 60 steps: a shorter warm-up holds the peak
rate until then), and then fixes the total so that the decay reaches
its floor when ``trainer.max_time`` runs out; the run stops there. The plan is stored in checkpoints, so
a resumed run keeps it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Timer

from sepkit.errors import ConfigError

PLAN_FROM_TIME = "max_time"  # the value of optim.scheduler.total_steps that asks for this plan
SKIPPED_STEPS = 10  # start-up steps (workers starting, kernels compiling) left out of the measured rate
MEASURED_STEPS = 50  # at least this many steps measured before the plan is made
TIME_SHARE = 0.97  # of the remaining time, spent on planned steps: the rest absorbs jitter and the last save


class TimePlannedSchedule(pl.Callback):
    """Fix the schedule's total steps from the measured step rate and ``trainer.max_time``."""

    def __init__(self, warmup_steps: int, start_step: int) -> None:
        self.start_step = start_step  # budget steps spent by the runs this one warm-starts from
        self.plan_at = max(warmup_steps - start_step, SKIPPED_STEPS + MEASURED_STEPS)
        self.planned_total_steps: int | None = None
        self._clock: tuple[int, float] | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if _timer(trainer) is None:
            raise ConfigError("optim.scheduler.total_steps: max_time needs trainer.max_time")
        if self.planned_total_steps is not None:  # resumed: the plan made before applies
            self._apply(trainer, pl_module)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.planned_total_steps is not None:
            return
        step = trainer.global_step
        if step == SKIPPED_STEPS or (self._clock is None and step > SKIPPED_STEPS):
            self._clock = (step, time.monotonic())
        if self._clock is None or step < self.plan_at:
            return
        first, started = self._clock
        seconds_per_step = (time.monotonic() - started) / max(1, step - first)
        remaining = _timer(trainer).time_remaining("train") or 0.0  # type: ignore[union-attr]
        self.planned_total_steps = self.start_step + step + max(1, int(TIME_SHARE * remaining / seconds_per_step))
        self._apply(trainer, pl_module)
        if trainer.is_global_zero:
            print(
                f"sepkit: schedule planned over trainer.max_time: {self.planned_total_steps} steps in all "
                f"({seconds_per_step:.3f} s per step over steps {first}-{step}, {remaining:.0f} s left)",
                file=sys.stderr,
                flush=True,
            )

    def _apply(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Give the module its total and stop the run where the decay ends (or earlier, at max_steps)."""
        assert self.planned_total_steps is not None
        pl_module.planned_total_steps = self.planned_total_steps  # type: ignore[assignment]
        run_steps = self.planned_total_steps - self.start_step
        loop = trainer.fit_loop.epoch_loop
        loop.max_steps = run_steps if loop.max_steps < 0 else min(loop.max_steps, run_steps)

    def state_dict(self) -> dict[str, Any]:
        return {"planned_total_steps": self.planned_total_steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.planned_total_steps = state_dict.get("planned_total_steps")


def _timer(trainer: pl.Trainer) -> Timer | None:
    """Lightning's ``Timer`` callback, present when ``trainer.max_time`` is set."""
    return next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)  # type: ignore[attr-defined]

"""A learning-rate schedule planned over a wall-clock budget (``optim.scheduler.total_steps: max_time``).

A linear or cosine decay needs its total step count before training, but on an unfamiliar machine (a GPU
lent for ten minutes, a loaded CPU) the step rate is unknown. This callback measures it over the warm-up,
where the schedule does not depend on the total yet (at least 60 steps: a shorter warm-up holds the peak
rate until then), and then fixes the total so that the decay reaches
its floor when ``trainer.max_time`` runs out; the run stops there.

The step rate can change after the plan is made (validations, data workers filling caches, other jobs on
the machine). So every ``REPLAN_EVERY`` steps the plan is remade from the rate measured since it was
last made: when the end it predicts moves by more than ``REPLAN_TOLERANCE`` of the steps left (and more
than ``REPLAN_EVERY`` steps), the decay
is re-anchored at the current step with its current rate and progress, and runs on to the new end at a
new slope (no jump in the learning rate). The plan, its anchor and the budget it was made for are stored in
checkpoints. A rerun with the same ``max_time`` continues that budget and goes on following the step rate,
measured afresh from ``SKIPPED_STEPS`` after the resume: a plan cut short by a loaded machine just before the
stop (evaluations at the end of a session) is lengthened again if the resumed steps are faster. A rerun with
a longer ``max_time`` finishes the plan as it was made and does not re-plan (a new budget is a new run). A rerun
with a shorter one (a budget cut to fit a session) re-plans like a rerun of the same budget, towards the new end:
otherwise the timer would stop the run part-way down the decay, the rate still well above its floor.
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
REPLAN_EVERY = 50  # steps between checks of the plan against the rate measured since it was made
REPLAN_TOLERANCE = 0.05  # re-plan when the predicted end moves by more than this share of the steps left,
# and by more than REPLAN_EVERY steps (near the end a few steps are a large share, and change nothing)


class TimePlannedSchedule(pl.Callback):
    """Fix the schedule's total steps from the measured step rate and ``trainer.max_time``."""

    def __init__(self, warmup_steps: int, start_step: int) -> None:
        self.start_step = start_step  # budget steps spent by the runs this one warm-starts from
        self.plan_at = max(warmup_steps - start_step, SKIPPED_STEPS + MEASURED_STEPS)
        self.planned_total_steps: int | None = None
        self.decay_anchor: tuple[int, float] | None = None  # (budget step, progress) of the last re-plan
        self.replans = 0
        self.budget_seconds: float | None = None  # the trainer.max_time the plan was made for
        self._clock: tuple[int, float] | None = None
        self._planned_here: tuple[int, float] | None = None  # (step, time) the plan was made at, in this run
        self._max_steps = -1  # the run's own max_steps, before any plan shortened it
        self._resumed_at: int | None = None  # the step a rerun of the same budget resumed at

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if _timer(trainer) is None:
            raise ConfigError("optim.scheduler.total_steps: max_time needs trainer.max_time")
        self._max_steps = trainer.fit_loop.epoch_loop.max_steps
        if self.planned_total_steps is not None:  # resumed: the plan made before applies
            self._apply(trainer, pl_module)
            budget = _budget(trainer)
            if self.budget_seconds is None or budget < self.budget_seconds + 1.0:
                self._resumed_at = trainer.global_step  # the same budget or a cut one: follow the step rate to its end
                if self.budget_seconds is not None:  # None: a checkpoint from before budgets were stored
                    self.budget_seconds = budget

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if self.planned_total_steps is not None:
            if self._planned_here is None and self._resumed_at is not None and step >= self._resumed_at + SKIPPED_STEPS:
                self._planned_here = (step, time.monotonic())  # re-plans measure the rate from here
            self._check_plan(trainer, pl_module)
            return
        if step == SKIPPED_STEPS or (self._clock is None and step > SKIPPED_STEPS):
            self._clock = (step, time.monotonic())
        if self._clock is None or step < self.plan_at:
            return
        self.planned_total_steps, rate, remaining = self._fit_total(trainer, self._clock)
        self.budget_seconds = _budget(trainer)
        self._planned_here = (step, time.monotonic())
        self._apply(trainer, pl_module)
        _tell(
            trainer,
            f"sepkit: schedule planned over trainer.max_time: {self.planned_total_steps} steps in all "
            f"({rate:.3f} s per step over steps {self._clock[0]}-{step}, {remaining:.0f} s left)",
        )

    def _check_plan(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Every REPLAN_EVERY steps of the run that made the plan, or of a rerun of its budget: move its end if
        the measured rate says so."""
        step = trainer.global_step
        if self._planned_here is None or (step - self._planned_here[0]) % REPLAN_EVERY or step == self._planned_here[0]:
            return
        assert self.planned_total_steps is not None
        since = self._planned_here[0]
        total, rate, remaining = self._fit_total(trainer, self._planned_here)  # validations included: they recur
        budget_step = self.start_step + step
        left = max(1, self.planned_total_steps - budget_step)
        if abs(total - self.planned_total_steps) <= max(REPLAN_TOLERANCE * left, REPLAN_EVERY):
            return
        self.decay_anchor = (budget_step, pl_module.decay_progress_at(budget_step))  # type: ignore[operator]
        self.planned_total_steps = total
        self.replans += 1
        self._planned_here = (step, time.monotonic())  # the next check measures the rate since this one
        self._apply(trainer, pl_module)
        _tell(
            trainer,
            f"sepkit: schedule re-planned at step {budget_step}: {total} steps in all "
            f"({rate:.3f} s per step since step {since}, {remaining:.0f} s left)",
        )

    def _fit_total(self, trainer: pl.Trainer, since: tuple[int, float]) -> tuple[int, float, float]:
        """(total budget steps that fill the time left, seconds per step since ``since`` = (step, time), seconds left)."""
        step = trainer.global_step
        seconds_per_step = (time.monotonic() - since[1]) / max(1, step - since[0])
        remaining = _timer(trainer).time_remaining("train") or 0.0  # type: ignore[union-attr]
        return (
            self.start_step + step + max(1, int(TIME_SHARE * remaining / seconds_per_step)),
            seconds_per_step,
            remaining,
        )

    def _apply(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Give the module its total and stop the run where the decay ends (or earlier, at its own max_steps)."""
        assert self.planned_total_steps is not None
        pl_module.planned_total_steps = self.planned_total_steps  # type: ignore[assignment]
        pl_module.decay_anchor = self.decay_anchor  # type: ignore[assignment]
        run_steps = self.planned_total_steps - self.start_step
        loop = trainer.fit_loop.epoch_loop
        loop.max_steps = run_steps if self._max_steps < 0 else min(self._max_steps, run_steps)

    def state_dict(self) -> dict[str, Any]:
        anchor = None if self.decay_anchor is None else [int(self.decay_anchor[0]), float(self.decay_anchor[1])]
        return {
            "planned_total_steps": self.planned_total_steps,
            "decay_anchor": anchor,
            "replans": self.replans,
            "budget_seconds": self.budget_seconds,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.planned_total_steps = state_dict.get("planned_total_steps")
        anchor = state_dict.get("decay_anchor")
        self.decay_anchor = None if anchor is None else (int(anchor[0]), float(anchor[1]))
        self.replans = int(state_dict.get("replans", 0))
        budget = state_dict.get("budget_seconds")  # absent from checkpoints written before it was stored
        self.budget_seconds = None if budget is None else float(budget)


def _tell(trainer: pl.Trainer, message: str) -> None:
    """Print a planning message once (rank zero), on standard error."""
    if trainer.is_global_zero:
        print(message, file=sys.stderr, flush=True)


def _timer(trainer: pl.Trainer) -> Timer | None:
    """Lightning's ``Timer`` callback, present when ``trainer.max_time`` is set."""
    return next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)  # type: ignore[attr-defined]


def _budget(trainer: pl.Trainer) -> float:
    """Seconds of training ``trainer.max_time`` gives, resumed runs' elapsed time included."""
    timer = _timer(trainer)
    assert timer is not None
    return timer.time_elapsed("train") + (timer.time_remaining("train") or 0.0)

"""optim.scheduler.total_steps: max_time — the decay is planned from the measured step rate to end at max_time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from sepkit.errors import ConfigError
from sepkit.train.config import load_config
from sepkit.train.curves import read_logged
from sepkit.train.module import TrainingModule
from sepkit.train.run import train
from sepkit.train.time_plan import MEASURED_STEPS, SKIPPED_STEPS

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


class SimulatedClock:
    """``time.monotonic`` for the planner and Lightning's ``Timer``: it moves only when a training step starts,
    by ``cost(step)`` seconds, so what these tests check does not depend on how loaded the machine running
    them is (a busy CI runner once left a rerun too little real time to re-plan)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.cost: Callable[[int], float] = lambda step: 0.05

    def __call__(self) -> float:
        return self.now


class _StepCostsTime(pl.Callback):
    """Advance the simulated clock by the cost of each training step as it starts."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        self.clock.now += self.clock.cost(trainer.global_step)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimulatedClock:
    """Run training on a simulated clock (see ``SimulatedClock``)."""
    simulated = SimulatedClock()
    plain = TrainingModule.configure_callbacks
    monkeypatch.setattr(TrainingModule, "configure_callbacks", lambda self: [*plain(self), _StepCostsTime(simulated)])
    monkeypatch.setattr(time, "monotonic", simulated)
    return simulated


def _tiny(out: Path, *overrides: str) -> dict:
    """The tiny enhancement recipe with a linear decay whose total is fitted to ``trainer.max_time``."""
    return load_config(
        RECIPES / "enhance" / "tiny.yaml",
        [
            f"output_dir={out}",
            "trainer.enable_progress_bar=false",
            "trainer.max_steps=-1",
            "optim.scheduler={name: linear, warmup_steps: 20, total_steps: max_time}",
            "validation.metrics=[]",
            "data.train.n_items=2000",  # one epoch outlasts the run: no validation pauses in the measured rate
            *overrides,
        ],
    )


@pytest.mark.slow
def test_the_decay_is_planned_after_warm_up_and_the_run_ends_where_it_reaches_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: SimulatedClock
) -> None:
    out = tmp_path / "run"
    train(_tiny(out, "trainer.max_time=00:00:00:10"))
    err = capsys.readouterr().err.splitlines()
    told = [line for line in err if "schedule planned over trainer.max_time" in line]
    retold = [line for line in err if "schedule re-planned at step" in line]
    steps, lrs = read_logged(out)[next(k for k in read_logged(out) if k.startswith("lr-"))]
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]
    plan = next(v for k, v in state.items() if "TimePlannedSchedule" in k)
    planned = plan["planned_total_steps"]
    assert len(retold) == plan["replans"] == 0  # a steady step rate keeps the first plan
    assert planned > SKIPPED_STEPS + MEASURED_STEPS  # planned from the rate after the measured steps
    assert len(told) == 1  # the user is told the plan once, and each re-plan as it happens
    assert f"{planned} steps in all" in [*told, *retold][-1]  # the checkpoint holds the last plan told
    assert int(steps[-1]) + 1 <= planned  # the run stopped at the plan's end (or max_time just before it)
    peak = float(lrs.max())
    assert float(lrs[-1]) < 0.25 * peak  # decayed nearly to the floor by the end of the time budget
    assert float(lrs[SKIPPED_STEPS + MEASURED_STEPS - 1]) == pytest.approx(peak, rel=0.05)  # full rate until the plan


def test_a_time_planned_schedule_without_max_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="total_steps: max_time needs trainer.max_time"):
        train(_tiny(tmp_path / "run"))


@pytest.mark.slow
def test_a_resumed_run_keeps_its_plan(tmp_path: Path, clock: SimulatedClock) -> None:
    """The plan lives in the checkpoint: a rerun continues to the planned end (where max_time may have cut
    the first run short) and stops there, instead of planning afresh over its own, longer max_time."""
    out = tmp_path / "run"
    train(_tiny(out, "trainer.max_time=00:00:00:10"))
    first = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    train(_tiny(out, "trainer.max_time=00:00:00:30"))  # a plan made afresh would fill 30 s with more steps
    again = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    planned = [
        next(v["planned_total_steps"] for k, v in c["callbacks"].items() if "TimePlannedSchedule" in k)
        for c in (first, again)
    ]
    assert planned[0] is not None and planned[0] == planned[1]
    assert first["global_step"] <= planned[0] == again["global_step"]


@pytest.mark.slow
def test_the_plan_follows_a_step_rate_that_drops_after_it_was_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: SimulatedClock
) -> None:
    """Steps get 3x slower after the plan: it is re-planned, the rate decays on without a jump and still
    reaches the floor by max_time, instead of being cut off at about half the peak."""
    clock.cost = lambda step: 0.06 if step > 80 else 0.02  # the plan is made at step 60 (SKIPPED + MEASURED)
    out = tmp_path / "run"
    train(_tiny(out, "trainer.max_time=00:00:00:12"))
    err = capsys.readouterr().err
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]
    plan = next(v for k, v in state.items() if "TimePlannedSchedule" in k)
    first = int(next(line for line in err.splitlines() if "schedule planned over" in line).split(": ")[2].split()[0])
    assert plan["replans"] >= 1 and err.count("schedule re-planned at step") == plan["replans"]
    assert plan["planned_total_steps"] < first  # slower steps: fewer of them fit
    steps, lrs = read_logged(out)[next(k for k in read_logged(out) if k.startswith("lr-"))]
    decay = lrs[steps >= 20]  # after warm-up
    assert bool((decay[1:] <= decay[:-1] + 1e-12).all())  # never rises: a re-plan changes the slope, not the rate
    assert float(lrs[-1]) < 0.25 * float(lrs.max())  # and it still ends near the floor


@pytest.mark.slow
def test_a_rerun_of_the_same_budget_lengthens_a_plan_cut_short_by_slow_steps_before_the_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clock: SimulatedClock
) -> None:
    """Steps slow down (a loaded machine), the plan is shortened, and the run is stopped; the rerun with the
    same max_time steps at full speed again, so it re-plans from its own rate and uses the time left, with
    the learning rate going on down from where it was instead of jumping."""

    class StoppedAfterTheReplan(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
            # stop just after the re-plan at step 110, at a checkpoint (the tiny recipe saves every 8 steps)
            if trainer.global_step >= 120:
                trainer.should_stop = True

    def plan_of(out: Path) -> dict:
        state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
        return {
            "step": state["global_step"],
            **next(v for k, v in state["callbacks"].items() if "TimePlannedSchedule" in k),
        }

    plain = TrainingModule.configure_callbacks
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(TrainingModule, "configure_callbacks", lambda self: [*plain(self), StoppedAfterTheReplan()])
        clock.cost = lambda step: 0.15 if step > 70 else 0.05  # 3x slower from step 70: a loaded machine
        train(_tiny(out, "trainer.max_time=00:00:00:20"))
    stopped = plan_of(out)
    assert (
        stopped["step"] == 120
        and stopped["planned_total_steps"] > 120
        and stopped["budget_seconds"] == pytest.approx(20, abs=0.01)
    )
    capsys.readouterr()
    clock.cost = lambda step: 0.05  # the load has gone
    train(_tiny(out, "trainer.max_time=00:00:00:20"))
    rerun = plan_of(out)
    assert "schedule re-planned at step" in capsys.readouterr().err
    assert rerun["replans"] > stopped["replans"]
    assert rerun["planned_total_steps"] > stopped["planned_total_steps"]  # faster steps: more of them fit
    steps, lrs = read_logged(out)[next(k for k in read_logged(out) if k.startswith("lr-"))]
    decay = lrs[steps >= 20]
    assert bool((decay[1:] <= decay[:-1] + 1e-12).all())  # the rerun carries the decay on, no jump
    assert float(lrs[-1]) < 0.25 * float(lrs.max())


@pytest.mark.slow
def test_a_rerun_with_a_cut_budget_replans_so_the_decay_still_reaches_its_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clock: SimulatedClock
) -> None:
    """A budget planned to span sessions is cut when the run is resumed (so its judge fits the session): the
    rerun re-plans towards the new end, instead of the timer stopping it part-way down the old decay."""

    class StoppedEarly(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
            if trainer.global_step >= 120:  # a checkpoint step of the tiny recipe (every 8 steps)
                trainer.should_stop = True

    plain = TrainingModule.configure_callbacks
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(TrainingModule, "configure_callbacks", lambda self: [*plain(self), StoppedEarly()])
        train(_tiny(out, "trainer.max_time=00:00:00:30"))  # 0.05 s a step: about 580 steps planned
    first = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    old_plan = next(v for k, v in first["callbacks"].items() if "TimePlannedSchedule" in k)
    assert first["global_step"] == 120 and old_plan["planned_total_steps"] > 500
    capsys.readouterr()
    train(_tiny(out, "trainer.max_time=00:00:00:12"))  # 6 s used: about 6 s (120 steps) left of the cut budget
    assert "schedule re-planned at step" in capsys.readouterr().err
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    plan = next(v for k, v in last["callbacks"].items() if "TimePlannedSchedule" in k)
    assert plan["planned_total_steps"] < 300 and plan["budget_seconds"] == pytest.approx(12, abs=0.01)
    steps, lrs = read_logged(out)[next(k for k in read_logged(out) if k.startswith("lr-"))]
    decay = lrs[steps >= 20]
    assert bool((decay[1:] <= decay[:-1] + 1e-12).all())  # no jump up at the re-plan
    assert float(lrs[-1]) < 0.25 * float(lrs.max())  # the cut budget still ends near the floor

"""Training CPU time: logged at each validation, summed over resumes, a budget that stops the run, on the card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sepkit.cli.main import main
from sepkit.errors import ConfigError
from sepkit.train.config import load_config
from sepkit.train.curves import read_logged
from sepkit.train.run import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _tiny(out: Path, *overrides: str) -> dict:
    """The tiny enhancement recipe (8 batches an epoch, a validation after each) in ``out``."""
    return load_config(
        RECIPES / "enhance" / "tiny.yaml",
        [f"output_dir={out}", "trainer.enable_progress_bar=false", *overrides],
    )


@pytest.mark.slow
def test_a_cpu_budget_stops_at_the_first_validation_past_it_and_a_resume_adds_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    train(_tiny(out, "trainer.max_steps=40", "budget.cpu_hours=1e-7"))
    hours = read_logged(out)["time/cpu_hours"]
    # one validation, logged at step index 7 (8 steps done): the budget stopped the run, not max_steps
    assert hours[0].tolist() == [7]
    assert 0 < hours[1][0] < 0.1
    card = yaml.safe_load((out / "export" / "CARD.md").read_text().split("---")[1])
    assert card["steps"] == 8 and 0 < card["training_cpu_seconds"] <= card["training_seconds"] * 4

    train(_tiny(out, "trainer.max_steps=16", "budget.cpu_hours=1.0"))  # a larger budget: resumes to max_steps
    steps, values = read_logged(out)["time/cpu_hours"]
    assert steps.size == 2 and steps[0] == 7 and values[1] > values[0]  # the resumed run adds to the first one's time

    target = tmp_path / "named"
    assert main(["export", str(out / "checkpoints" / "last.ckpt"), str(target), "--name", "tiny-step16"]) == 0
    assert json.loads((target / "config.json").read_text())["name"] == "tiny-step16"
    capsys.readouterr()


def test_a_budget_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="budget.cpu_hours must be positive"):
        train(_tiny(tmp_path / "run", "budget.cpu_hours=0"))
    with pytest.raises(ConfigError, match="unknown key 'budget.hours'"):
        train(_tiny(tmp_path / "run2", "budget.hours=1"))

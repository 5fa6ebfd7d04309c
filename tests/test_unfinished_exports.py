"""Committed exports of runs that span sessions (recipes/*/unfinished/*): they load, and say where their budget stands.

A later session, perhaps on another machine, warm-starts from them; a broken or unlabelled one would
silently restart a budget from the wrong step. Retired shipped models (recipes/*/retired/*) are kept
because recipe configs start from them: they load, and every config's ``init.from`` path exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sepkit
from sepkit.pretrained import read_card

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
UNFINISHED = sorted(d for d in RECIPES.glob("*/unfinished/*") if (d / "config.json").is_file())
RETIRED = sorted(d for d in RECIPES.glob("*/retired/*") if (d / "config.json").is_file())
CONFIGS = sorted(RECIPES.glob("*/*.yaml"))


@pytest.mark.parametrize("folder", UNFINISHED, ids=lambda d: d.name)
def test_unfinished_export_states_its_budget_step_and_how_to_go_on(folder: Path) -> None:
    meta, body = read_card(folder)
    assert meta["shipped"] is False
    assert 0 < meta["budget_step"] <= meta["planned_budget_steps"]
    config_file = RECIPES.parent / meta["config"]
    assert config_file.is_file(), f"{folder.name}: its config {meta['config']} is not in the repository"
    if meta["budget_step"] == meta["planned_budget_steps"]:
        assert "ship rule" in meta["judged"]  # a finished budget waits for its ship decision, not for more steps
    else:
        go_on = meta["continue_with"]
        assert f"init.from=recipes/{folder.parent.parent.name}/unfinished/{folder.name}" in go_on
        # A budget in phases restarts the schedule at each phase's config: its own step is the budget's minus the phase's start.
        phase_step = meta["budget_step"] - meta.get("phase_start", 0)
        assert phase_step >= 0
        assert f"optim.scheduler.start_step={phase_step}" in go_on
    assert json.loads((folder / "config.json").read_text())["name"] == meta["name"]
    assert len(body.split()) > 30


@pytest.mark.parametrize("folder", UNFINISHED + RETIRED, ids=lambda d: d.name)
def test_unfinished_export_loads_without_pickle_and_processes_audio(folder: Path) -> None:
    assert {p.name for p in folder.iterdir()} - {"curves.png"} == {"CARD.md", "config.json", "model.safetensors"}
    model = sepkit.load(str(folder))
    wav = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    out = model.enhance(wav, 16000) if model.task == "enhance" else model.separate(wav, 16000)
    assert out.shape[-1] == wav.shape[-1] and np.isfinite(out).all()


@pytest.mark.parametrize("folder", RETIRED, ids=lambda d: d.name)
def test_retired_model_says_it_is_not_shipped_and_a_config_starts_from_it(folder: Path) -> None:
    meta, _ = read_card(folder)
    assert meta["shipped"] is False and json.loads((folder / "config.json").read_text())["name"] == meta["name"]
    where = f"recipes/{folder.parent.parent.name}/retired/{folder.name}"
    assert any(where in c.read_text() for c in CONFIGS), f"no recipe config starts from {where}: delete it"


def test_every_config_init_path_in_the_repository_exists() -> None:
    """A config that warm-starts from a committed folder breaks silently for the next user if that folder moves."""
    import yaml

    named = 0
    for path in CONFIGS:  # each file's own init.from (a base file's is checked where it is written)
        source = ((yaml.safe_load(path.read_text()) or {}).get("init") or {}).get("from")
        if isinstance(source, str) and source.startswith("recipes/"):
            named += 1
            assert (RECIPES.parent / source).is_dir(), f"{path.name}: init.from {source} is not in the repository"
    assert named >= 4  # the stage 6-9 enhancer candidates start from the retired stage 5

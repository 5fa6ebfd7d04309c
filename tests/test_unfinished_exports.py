"""Committed exports of runs that span sessions (recipes/*/unfinished/*): they load, and say where their budget stands.

A later session, perhaps on another machine, warm-starts from them; a broken or unlabelled one would
silently restart a budget from the wrong step.
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


@pytest.mark.parametrize("folder", UNFINISHED, ids=lambda d: d.name)
def test_unfinished_export_loads_without_pickle_and_processes_audio(folder: Path) -> None:
    assert {p.name for p in folder.iterdir()} - {"curves.png"} == {"CARD.md", "config.json", "model.safetensors"}
    model = sepkit.load(str(folder))
    wav = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    out = model.enhance(wav, 16000) if model.task == "enhance" else model.separate(wav, 16000)
    assert out.shape[-1] == wav.shape[-1] and np.isfinite(out).all()

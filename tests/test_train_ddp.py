"""Two-process DDP on CPU (gloo) through the real command line, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sepkit.pretrained import read_card

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_ddp_two_cpu_processes_train_and_export(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "sepkit.cli.main",
        "train",
        str(ROOT / "recipes" / "enhance" / "tiny.yaml"),
        f"output_dir={out}",
        f"export.dir={out / 'model'}",
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.max_steps=4",
        "checkpoint.every_n_train_steps=2",
        "trainer.enable_progress_bar=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(out / "model")  # printed once, by rank 0
    meta, _ = read_card(out / "model")
    assert meta["device"].startswith("2 x ") and meta["steps"] == 4 and "si_sdri" in meta["scores"]
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 4
    # Each of the 2 ranks took 4 batches of 4 from its half of the 32 items: one full pass.
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 0, "position": 4}]

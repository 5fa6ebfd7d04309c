"""Exact resume: a run killed mid-epoch and restarted continues the uninterrupted run's loss curve."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.nn as nn

from sepkit.models import register_model
from sepkit.train.run import train
from sepkit_fixtures import short_pit_run


@register_model("test_dropout_conv")
class DropoutConv(nn.Module):
    """A two-output conv net with dropout, so the resumed run also needs the saved RNG state."""

    def __init__(self, n_src: int = 2, sample_rate: int = 8000, hidden: int = 8) -> None:
        super().__init__()
        self.sample_rate, self.n_src = sample_rate, n_src
        self.inp = nn.Conv1d(1, hidden, 17, padding=8)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Conv1d(hidden, n_src, 17, padding=8)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return wav[:, None] / self.n_src + self.out(self.drop(torch.tanh(self.inp(wav[:, None]))))


class Crash(Exception):
    """Stands in for a killed process."""


class CrashAt(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise Crash


def _config(out: Path) -> dict:
    # a worker process: prefetching must not shift the order
    return short_pit_run(out, "test_dropout_conv", "{n_src: 2, hidden: 8}", num_workers=1)


def _logged(out: Path, key: str) -> dict[int, float]:
    values: dict[int, float] = {}
    for path in sorted((out / "logs").glob("version_*/metrics.csv")):
        for row in csv.DictReader(path.open()):
            if row.get(key):
                values[int(row["step"])] = float(row[key])
    return values


@pytest.mark.slow
def test_killed_run_resumes_mid_epoch_on_the_same_curve(tmp_path: Path) -> None:
    train(_config(tmp_path / "a"))
    with pytest.raises(Crash):  # killed after step 7: the last checkpoint is step 6, mid-way through epoch 2
        train(_config(tmp_path / "b"), callbacks=[CrashAt(7)])
    assert torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6
    train(_config(tmp_path / "b"))  # the same command again

    a, b = _logged(tmp_path / "a", "train/loss"), _logged(tmp_path / "b", "train/loss")
    assert len(a) == 12 and sorted(b) == sorted(a)
    for step in range(6, 12):  # logged steps are 0-based: steps 7..12
        assert b[step] == pytest.approx(a[step], abs=1e-5), step
    switches = _logged(tmp_path / "a", "train/switch_rate")
    assert len(switches) == 1 and _logged(tmp_path / "b", "train/switch_rate") == pytest.approx(switches)
    wa = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_a_copied_run_folder_resumes_and_keeps_writing_last_ckpt(tmp_path: Path) -> None:
    """Forking a run (copy its folder, resume the copy with other settings, as the CAE/MAE ablation does) must
    keep last.ckpt current: had the copy written last-v1.ckpt, a second resume would restart from the fork."""
    import shutil

    with pytest.raises(Crash):
        train(_config(tmp_path / "a"), callbacks=[CrashAt(7)])
    shutil.copytree(tmp_path / "a", tmp_path / "fork")
    with pytest.raises(Crash):
        train(_config(tmp_path / "fork"), callbacks=[CrashAt(10)])
    names = sorted(p.name for p in (tmp_path / "fork" / "checkpoints").iterdir())
    assert not [n for n in names if "-v" in n], names
    assert torch.load(tmp_path / "fork" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 9

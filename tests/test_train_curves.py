"""Training curves: read from the CSV logs across restarts, drawn at every validation, redrawn by --plot-only."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest

from sepkit.cli.main import main
from sepkit.train.config import load_config
from sepkit.train.curves import CURVES, read_logged
from sepkit.train.run import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_restart_replaces_the_steps_it_logs_again(tmp_path: Path) -> None:
    _csv(
        tmp_path / "logs" / "version_0" / "metrics.csv",
        "epoch,step,train/loss,val/si_sdri\n0,0,5.0,\n0,1,4.0,\n0,2,3.0,\n0,2,,1.5\n0,3,2.0,\n",
    )
    # the run stopped after step 3 and resumed from the checkpoint of step 2
    _csv(
        tmp_path / "logs" / "version_1" / "metrics.csv",
        "epoch,step,train/loss,val/si_sdri,train/switch_rate\n0,2,2.5,,\n0,3,1.0,,0.25\n0,4,,2.5,\n",
    )
    _csv(tmp_path / "logs" / "version_10" / "metrics.csv", "epoch,step,train/loss\n0,11,0.5\n")  # 10 after 1, not 0
    series = read_logged(tmp_path)
    steps, loss = series["train/loss"]
    assert steps.tolist() == [0, 1, 2, 3, 11] and loss.tolist() == [5.0, 4.0, 2.5, 1.0, 0.5]
    assert series["val/si_sdri"][0].tolist() == [4]  # step 2's validation was logged again by neither
    assert series["train/switch_rate"][1].tolist() == [0.25]
    assert "epoch" not in series and "step" not in series


class CurvesSeen(pl.Callback):
    """Notes, at the start of each validation, whether the run folder already holds curves.png."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / CURVES
        self.seen: list[bool] = []

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.seen.append(self.path.is_file())


@pytest.mark.slow
def test_every_validation_redraws_the_curves_and_plot_only_redraws_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    config = load_config(
        RECIPES / "enhance" / "tiny.yaml",
        [
            f"output_dir={out}",
            f"export.dir={out / 'model'}",
            "trainer.max_steps=16",
            "trainer.enable_progress_bar=false",
        ],
    )  # 8 batches an epoch: validations at steps 8, 16
    probe = CurvesSeen(out)
    train(config, callbacks=[probe])
    assert probe.seen == [False, True]  # drawn by the first validation, before training went on
    series = read_logged(out)
    assert series["val/si_sdri"][0].size == 2 and series["train/loss"][0].size == 16
    png = out / CURVES
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exported = out / "model"  # the export carries the run's curves, and its card shows them
    assert (exported / CURVES).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"![training curves]({CURVES})" in (exported / "CARD.md").read_text()

    png.unlink()
    assert main(["train", "--plot-only", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(png) and png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--plot-only", "{tmp}/missing"], "no such run folder"),
        (["--plot-only", "{tmp}"], "no logged metrics"),
        ([], "give a CONFIG"),
    ],
)
def test_plot_only_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["train", *(a.format(tmp=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

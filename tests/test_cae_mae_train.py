"""CAE/MAE end to end on CPU: the tiny recipe trains in stages, exports, loads, enhances, resumes in its stage."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf
import torch

import sepkit
from sepkit.cli.main import main
from sepkit.pretrained import load_network, read_card

TINY = Path(__file__).resolve().parent.parent / "recipes" / "cae_mae" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _logged(out: Path, column: str) -> dict[int, float]:
    """Step -> value of ``column`` over every (re)start's CSV log."""
    values: dict[int, float] = {}
    for path in sorted((out / "logs").glob("version_*/metrics.csv")):
        for row in csv.DictReader(path.open()):
            if row.get(column):
                values[int(row["step"])] = float(row[column])
    return values


@pytest.mark.slow
def test_tiny_recipe_trains_in_stages_exports_and_enhances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        str(TINY),
        f"output_dir={out}",
        "trainer.max_steps=12",
        "cae_mae.cae_steps=4",
        "checkpoint.every_n_train_steps=4",
        "trainer.enable_progress_bar=false",
    ]
    assert main(argv) == 0
    export = out / "export"
    assert capsys.readouterr().out.strip().endswith(str(export))
    stages = _logged(out, "train/stage")
    assert [stages[s] for s in range(12)] == [1.0] * 4 + [3.0] * 8  # 4 CAE steps, then the cycle stage
    assert set(_logged(out, "train/cycle_latent")) == set(range(4, 12))
    assert all(math.isfinite(v) for v in _logged(out, "train/loss").values())
    assert _logged(out, "val/latent_distance") and _logged(out, "val/si_sdri")

    model = sepkit.load(export, device="cpu")
    assert model.task == "enhance" and model.n_src == 1 and model.sample_rate == 8000
    x = np.random.default_rng(0).standard_normal(6000).astype(np.float32) * 0.1
    y = model.enhance(x, 8000)
    assert y.shape == x.shape and np.isfinite(y).all()
    assert model.enhance(np.stack([x, x[::-1].copy()]), 16000).shape == (2, 6000)  # channels, another rate
    net, config = load_network(export)
    assert config.arch == "cae_mae" and {"cae", "mae"} <= {name for name, _ in net.named_children()}
    meta, _ = read_card(export)
    assert meta["paradigm"] == "cae_mae" and meta["steps"] == 12 and {"si_sdri", "pesq", "estoi"} <= set(meta["scores"])

    # the CLI enhances with it, by folder and by a shipped name
    wav = tmp_path / "noisy.wav"
    sf.write(wav, x, 8000)
    assert main(["enhance", str(wav), "--model", str(export), "-o", str(tmp_path / "a.wav"), "--device", "cpu"]) == 0
    shutil.copytree(export, tmp_path / "models" / "enhance-cae-mae")
    monkeypatch.setenv("SEPKIT_PRETRAINED", str(tmp_path / "models"))
    by_name = ["enhance", str(wav), "--model", "enhance-cae-mae", "-o", str(tmp_path / "b.wav"), "--device", "cpu"]
    assert main(by_name) == 0
    a, b = sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0]
    assert a.shape == x.shape and np.allclose(a, b)

    # an inference-only export keeps the enhancement path alone and enhances exactly as the whole one
    slim_dir = tmp_path / "slim"
    assert main(["export", str(out / "checkpoints" / "best.ckpt"), str(slim_dir), "--inference-only"]) == 0
    slim, slim_config = load_network(slim_dir)
    assert slim_config.args["parts"] == "enhance"
    assert not hasattr(slim.cae, "encoder") and not hasattr(slim.mae, "decoder")
    assert 0 < sum(p.numel() for p in slim.parameters()) < sum(p.numel() for p in net.parameters())
    assert np.allclose(sepkit.load(slim_dir, device="cpu").enhance(x, 8000), y, atol=1e-6)


def test_a_network_without_its_training_halves_is_refused_for_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", str(TINY), f"output_dir={tmp_path / 'run'}", "model.args.parts=enhance"]
    assert main(argv) != 0
    assert "model.args.parts must be both" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_stopped_in_stage_one_resumes_into_the_cycle_stage_on_the_same_curve(tmp_path: Path) -> None:
    def argv(out: Path, steps: int) -> list[str]:
        return [
            "train",
            str(TINY),
            f"output_dir={out}",
            f"trainer.max_steps={steps}",
            "cae_mae.cae_steps=6",
            "checkpoint.every_n_train_steps=4",
            "trainer.enable_progress_bar=false",
            "validation.metrics=[]",
            "data.valid.n_items=4",
        ]

    assert main(argv(tmp_path / "a", 12)) == 0
    assert main(argv(tmp_path / "b", 4)) == 0  # stopped after 4 CAE steps
    assert main(argv(tmp_path / "b", 12)) == 0  # the same run, longer: resumes at step 4
    a, b = _logged(tmp_path / "a", "train/loss"), _logged(tmp_path / "b", "train/loss")
    assert sorted(a) == sorted(b) == list(range(12))
    for step in range(12):
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-6), step
    stages = _logged(tmp_path / "b", "train/stage")
    assert [stages[s] for s in range(12)] == [1.0] * 6 + [3.0] * 6

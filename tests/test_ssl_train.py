"""Paradigm ssl: each tiny objective trains and its loss falls, the encoder exports as task ssl and loads back,
HuBERT's second iteration clusters a previous export, and configs that cannot work are refused."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import sepkit
import sepkit.train.ssl  # noqa: F401  (registers paradigm ssl)
from sepkit.cli.main import main
from sepkit.errors import ConfigError, ModelError
from sepkit.models import build_model
from sepkit.pretrained import load_network, read_card
from sepkit.train.config import load_config
from sepkit.train.checkpoint_file import load_checkpoint
from sepkit.train.ssl import SslModule

RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "ssl_pretrain"
OBJECTIVES = ("wav2vec2", "hubert", "tera")


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tiny objective trained once (30 steps, 8 kHz synthetic voices), shared by the tests below."""
    root = tmp_path_factory.mktemp("ssl-runs")
    out = {}
    for objective in OBJECTIVES:
        out[objective] = root / objective
        argv = [
            "train",
            str(RECIPES / f"tiny_{objective}.yaml"),
            f"output_dir={out[objective]}",
            "trainer.enable_progress_bar=false",
        ]
        assert main(argv) == 0
    return out


def _logged(out: Path, column: str) -> list[float]:
    rows = csv.DictReader((out / "logs" / "version_0" / "metrics.csv").open())
    return [float(r[column]) for r in rows if r.get(column)]


@pytest.mark.slow
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_tiny_objective_loss_falls(runs: dict[str, Path], objective: str) -> None:
    losses = _logged(runs[objective], "train/loss")
    assert len(losses) == 30 and all(np.isfinite(losses))
    assert np.mean(losses[-6:]) < 0.9 * np.mean(losses[:6])
    valid = _logged(runs[objective], "val/loss")
    assert len(valid) >= 3 and valid[-1] < valid[0]  # the same masks at every validation: a clean comparison
    if objective == "wav2vec2":
        assert _logged(runs[objective], "train/temperature")[-1] == 0.5  # annealed to its floor
        assert _logged(runs[objective], "val/perplexity")


@pytest.mark.slow
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_export_holds_the_encoder_alone_and_loads_back(runs: dict[str, Path], objective: str) -> None:
    export = runs[objective] / "export"
    net, config = load_network(export)
    assert config.task == "ssl" and config.arch == "ssl_encoder" and type(net).__name__ == "SslEncoder"
    ckpt = load_checkpoint(runs[objective] / "checkpoints" / "best.ckpt")
    weights = {k[4:]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    assert any(k.startswith("objective.") for k in ckpt["state_dict"])  # the heads are checkpointed, not exported
    rebuilt = build_model("ssl_encoder", **config.args).eval()
    rebuilt.load_state_dict(weights)
    wav = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        for a, b in zip(net(wav), rebuilt(wav)):
            torch.testing.assert_close(a, b)
    meta, body = read_card(export)
    assert meta["task"] == "ssl" and meta["paradigm"] == "ssl" and "loss" not in meta["scores"]
    assert "self-supervised speech representations" in body
    with pytest.raises(ModelError, match="self-supervised speech encoder"):
        sepkit.load(export)


@pytest.mark.slow
def test_hubert_second_iteration_clusters_a_previous_export(runs: dict[str, Path], tmp_path: Path) -> None:
    first = load_checkpoint(runs["hubert"] / "checkpoints" / "last.ckpt")["state_dict"]
    assert bool(first["objective.targets.fitted"]) and first["objective.targets.centroids"].shape == (16, 39)
    out = tmp_path / "iteration2"
    argv = [
        "train",
        str(RECIPES / "tiny_hubert.yaml"),
        f"output_dir={out}",
        "trainer.max_steps=4",
        f"ssl.hubert.targets={runs['hubert'] / 'export'}",
        "ssl.hubert.layer=2",
        "ssl.hubert.clusters=8",
        "data.valid=null",
        "trainer.enable_progress_bar=false",
    ]
    assert main(argv) == 0
    state = load_checkpoint(out / "checkpoints" / "last.ckpt")["state_dict"]
    assert state["objective.targets.centroids"].shape == (8, 32)  # clusters of the teacher's 32-d layer
    teacher, _ = load_network(runs["hubert"] / "export")
    for key, value in teacher.state_dict().items():  # frozen: the teacher never moved
        torch.testing.assert_close(state[f"objective.targets.teacher.{key}"], value)
    assert np.isfinite(_logged(out, "train/loss")).all()


def test_configs_that_cannot_work_are_refused(tmp_path: Path) -> None:
    tiny = RECIPES / "tiny_wav2vec2.yaml"
    with pytest.raises(ConfigError, match="ssl.objective must be one of"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "ssl.objective=cpc"]))
    with pytest.raises(ConfigError, match="needs task: ssl"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "task=enhance"]))
    with pytest.raises(ConfigError, match="unknown key 'ssl.wav2vec2.negatives'"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "ssl.wav2vec2.negatives=5"]))
    with pytest.raises(ConfigError, match="temperature must be"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "ssl.wav2vec2.temperature=[2.0, 0.5]"]))
    with pytest.raises(ConfigError, match="stem: logmel"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "ssl.objective=tera"]))
    with pytest.raises(ConfigError, match="an SSL encoder"):
        SslModule(load_config(tiny, [f"output_dir={tmp_path}", "model.arch=fast_enhancer", "model.args={}"]))

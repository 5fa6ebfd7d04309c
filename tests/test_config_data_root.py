"""Recipes name their corpus as ${data}/...: the built-in corpus root, which corpus= on the command line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepkit.train.config import load_config

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
RUN = (
    "task: enhance\nsample_rate: 16000\nmodel: {arch: a}\ncorpus: ${data}/demo\noutput_dir: out\n"
    "data: {batch_size: 4, train: {type: fixed, path: '${corpus}/fixed/train', batch: '${data.batch_size}'}}\n"
)


def test_data_is_the_corpus_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path / "corpora"))
    (tmp_path / "run.yaml").write_text(RUN)
    cfg = load_config(tmp_path / "run.yaml")
    assert cfg["corpus"] == f"{tmp_path}/corpora/demo"
    assert cfg["data"]["train"]["path"] == f"{tmp_path}/corpora/demo/fixed/train"
    assert cfg["data"]["train"]["batch"] == 4  # dotted references still reach the data section


def test_corpus_override_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path / "corpora"))
    (tmp_path / "run.yaml").write_text(RUN)
    cfg = load_config(tmp_path / "run.yaml", [f"corpus={tmp_path}/elsewhere"])
    assert cfg["data"]["train"]["path"] == f"{tmp_path}/elsewhere/fixed/train"


@pytest.mark.parametrize("recipe", ["enhance/demo.yaml", "pit/demo.yaml", "mixit/demo.yaml", "pse/common.yaml"])
def test_demo_recipes_find_their_corpus_under_the_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recipe: str
) -> None:
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path))
    cfg = load_config(RECIPES / recipe)
    assert Path(cfg["corpus"]).is_relative_to(tmp_path)


def test_model_cards_name_corpus_paths_by_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sepkit.train.export import describe_data

    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path))
    line = describe_data({"type": "fixed", "path": f"{tmp_path}/demo/fixed/enh_dev", "length": 100})
    assert line == "fixed (path=$SEPKIT_DATA/demo/fixed/enh_dev, length=100)"

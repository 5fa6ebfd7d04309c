"""``sepkit retire``: a replaced model is kept whole under a new name, marked not shipped, loadable as a base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sepkit_fixtures import export_test_model, run_cli

from sepkit.pretrained import load_network, read_card, read_config

CARD = (
    "---\nname: enhance-default\nshipped: true  # the default\ntask: enhance\n"
    "training_data: 'demo corpus'\nsteps: 100  # all of them\n---\n"
    "# enhance-default (stage 3: the first wide run)\n\nIts account.\n"
)


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    model = export_test_model(tmp_path / "pretrained" / "enhance-default")
    (model / "CARD.md").write_text(CARD)
    (model / "curves.png").write_bytes(b"\x89PNG not really")
    return model


def test_retire_keeps_the_weights_and_files_and_renames_the_model(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "recipes" / "retired"
    code, out, err = run_cli(
        capsys, "retire", shipped, archive, "--tag", "stage3", "--replaced-by", "stage 4", "--date", "2026-12-07"
    )
    assert code == 0, err
    kept = archive / "enhance-default-stage3"
    assert out.strip() == str(kept)
    assert sorted(p.name for p in kept.iterdir()) == ["CARD.md", "config.json", "curves.png", "model.safetensors"]
    assert (kept / "model.safetensors").read_bytes() == (shipped / "model.safetensors").read_bytes()
    assert (kept / "curves.png").read_bytes() == (shipped / "curves.png").read_bytes()
    assert read_config(kept).name == "enhance-default-stage3"
    assert read_config(shipped).name == "enhance-default"  # the source is left for the new export to replace
    assert (shipped / "CARD.md").read_text() == CARD
    old, _ = load_network(shipped)
    new, _ = load_network(kept)
    for (k, a), (_, b) in zip(old.state_dict().items(), new.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_the_retired_card_says_it_is_not_shipped_and_keeps_the_account(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "retired"
    code, _, err = run_cli(capsys, "retire", shipped, archive, "--tag", "stage3", "--replaced-by", "stage 4")
    assert code == 0, err
    text = (archive / "enhance-default-stage3" / "CARD.md").read_text()
    meta, body = read_card(archive / "enhance-default-stage3")
    assert meta["name"] == "enhance-default-stage3"
    assert meta["shipped"] is False
    assert meta["steps"] == 100 and meta["training_data"] == "demo corpus"
    assert "steps: 100  # all of them" in text  # comments in the front matter survive
    assert text.count("shipped:") == 1
    assert "until stage 4 replaced it" in text
    assert body.lstrip().startswith("# enhance-default-stage3 (retired; stage 3: the first wide run)")
    assert "stage 4 replaced it as `enhance-default`" in body
    assert body.rstrip().endswith("Its account.")


def test_retire_refuses_to_overwrite_and_to_take_a_path_as_a_tag(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "retired"
    assert run_cli(capsys, "retire", shipped, archive, "--tag", "s3", "--replaced-by", "x")[0] == 0
    first = json.loads((archive / "enhance-default-s3" / "config.json").read_text())
    code, _, err = run_cli(capsys, "retire", shipped, archive, "--tag", "s3", "--replaced-by", "y")
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert json.loads((archive / "enhance-default-s3" / "config.json").read_text()) == first
    code, _, err = run_cli(capsys, "retire", shipped, archive, "--tag", "../escape", "--replaced-by", "y")
    assert code == 2 and "tag" in err
    assert not (tmp_path / "escape").exists() and sorted(p.name for p in archive.iterdir()) == ["enhance-default-s3"]
    code, _, err = run_cli(capsys, "retire", tmp_path / "nothing-here", archive, "--tag", "s4", "--replaced-by", "y")
    assert code == 2 and "unknown model" in err


def test_repoint_sends_a_config_that_started_from_the_model_to_its_copy(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEPKIT_PRETRAINED", str(shipped.parent))
    config = tmp_path / "stage4.yaml"
    config.write_text("# stage 4\nbase: x.yaml\ninit: {from: enhance-default, widen: false}  # stage 3 then\nseed: 4\n")
    other = tmp_path / "other.yaml"
    other.write_text("init:\n  from: 'enhance-default'\n  widen: false\n")
    archive = tmp_path / "retired"
    code, _, err = run_cli(
        capsys, "retire", "enhance-default", archive, "--tag", "stage3", "--replaced-by", "stage 4",
        "--repoint", config, "--repoint", other,
    )  # fmt: skip
    assert code == 0, err
    kept = (archive / "enhance-default-stage3").as_posix()
    assert (
        config.read_text()
        == f"# stage 4\nbase: x.yaml\ninit: {{from: {kept}, widen: false}}  # stage 3 then\nseed: 4\n"
    )
    assert other.read_text() == f"init:\n  from: {kept}\n  widen: false\n"


def test_repoint_checks_every_config_before_writing_anything(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f"init: {{from: {shipped}}}\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("init: {from: separate-2spk}\n")
    archive = tmp_path / "retired"
    code, _, err = run_cli(
        capsys, "retire", shipped, archive, "--tag", "s3", "--replaced-by", "x", "--repoint", good, "--repoint", wrong
    )
    assert code == 2 and "wrong.yaml" in err and "separate-2spk" in err
    assert not archive.exists() and good.read_text() == f"init: {{from: {shipped}}}\n"

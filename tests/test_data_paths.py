"""The corpus root comes from one place: $SEPKIT_DATA, else the per-user XDG data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepkit.data.paths import data_root, portable


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path / "corpora"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "corpora"


def test_xdg_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SEPKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "sepkit"


def test_home_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPKIT_DATA", "")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root() == tmp_path / ".local" / "share" / "sepkit"
    assert not data_root().exists()  # asking for the root creates nothing


def test_portable_names_the_root_by_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path / "corpora"))
    text = f"fixed (path={tmp_path}/corpora/demo/fixed/enh_dev), other={tmp_path}/corpora2/x, root={tmp_path}/corpora"
    assert (
        portable(text)
        == f"fixed (path=$SEPKIT_DATA/demo/fixed/enh_dev), other={tmp_path}/corpora2/x, root=$SEPKIT_DATA"
    )


def test_data_demo_builds_under_the_root_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sepkit.data.demo
    from sepkit.cli.main import main

    built: list[Path] = []
    monkeypatch.setattr(sepkit.data.demo, "build_demo", lambda opts, log: built.append(opts.out))
    monkeypatch.setenv("SEPKIT_DATA", str(tmp_path / "corpora"))
    assert main(["data", "root"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "corpora")
    assert main(["data", "demo", "--no-install-tools"]) == 0
    assert main(["data", "demo", str(tmp_path / "mine"), "--no-install-tools"]) == 0
    assert built == [tmp_path / "corpora" / "demo", tmp_path / "mine"]

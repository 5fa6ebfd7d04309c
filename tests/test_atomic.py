"""sepkit.atomic: the one way sepkit writes a file (AtomicFile) or a folder (staged_folder) in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sepkit.atomic import AtomicFile, staged_folder


def test_atomic_file_replaces_the_target_only_when_the_block_ends_well(tmp_path: Path) -> None:
    dst = tmp_path / "out.json"
    dst.write_text("old")
    with AtomicFile(dst) as out:
        assert out.path.parent == tmp_path and out.path.name.startswith(".out.json.") and out.path.exists()
        out.path.write_text("new")
        assert dst.read_text() == "old"  # readers see the old file until the commit
    assert dst.read_text() == "new"
    with pytest.raises(RuntimeError), AtomicFile(dst) as out:
        out.path.write_text("half")
        raise RuntimeError("writer failed")
    assert dst.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left


def test_atomic_file_gives_the_umask_permissions_even_to_a_file_written_in_its_place(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        out = AtomicFile(tmp_path / "weights.bin", ".tmp")
        out.path.unlink()  # a library that writes its own file (safetensors: owner-only)
        fd = os.open(out.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        assert out.commit() == tmp_path / "weights.bin"
    finally:
        os.umask(old)
    assert (tmp_path / "weights.bin").stat().st_mode & 0o777 == 0o640


def test_atomic_file_discard_and_staged_folder(tmp_path: Path) -> None:
    out = AtomicFile(tmp_path / "a.txt")
    out.discard()
    assert not list(tmp_path.iterdir())
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "old.txt").write_text("old")
    with pytest.raises(ValueError), staged_folder(tmp_path / "dir") as stage:
        (stage / "new.txt").write_text("new")
        raise ValueError("failed")
    assert [p.name for p in (tmp_path / "dir").iterdir()] == ["old.txt"]
    with staged_folder(tmp_path / "dir") as stage:
        (stage / "new.txt").write_text("new")
    assert [p.name for p in (tmp_path / "dir").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]

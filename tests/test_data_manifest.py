"""Manifests: round trip, validation of every line, and rejection of missing, corrupt or truncated files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_fixtures import tone, write
from sepkit.data.manifest import file_entry, read_manifest, read_mixture_manifest, select, write_manifest
from sepkit.data.splits import split_groups
from sepkit.errors import ManifestError


def _entries(tmp_path: Path, n: int = 3, ext: str = "wav") -> list[dict]:
    return [
        file_entry(write(tmp_path / f"a{i}.{ext}", tone(0.5 + 0.1 * i)), "train", "speech", f"s{i}", lang="xx")
        for i in range(n)
    ]


def test_round_trip_keeps_every_key(tmp_path: Path) -> None:
    entries = _entries(tmp_path)
    path = write_manifest(entries, tmp_path / "m" / "speech.jsonl")
    assert read_manifest(path) == entries
    assert entries[1]["duration"] == pytest.approx(0.6) and entries[1]["sample_rate"] == 16000
    assert entries[0]["lang"] == "xx" and Path(entries[0]["path"]).is_absolute()
    assert not list((tmp_path / "m").glob(".*part"))  # atomic write leaves no temporary file


def test_select_by_split_and_kind(tmp_path: Path) -> None:
    entries = _entries(tmp_path)
    entries[0]["split"] = "test"
    assert len(select(entries, split="train")) == 2 and len(select(entries, kind="noise")) == 0


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = write_manifest(_entries(tmp_path), tmp_path / "m.jsonl")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    with pytest.raises(ManifestError, match=r"m\.jsonl: line 2: not valid JSON"):
        read_manifest(path)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("split", "training", "'split' must be one of"),
        ("kind", "voice", "'kind' must be one of"),
        ("path", "relative.wav", "absolute path"),
        ("duration", -1, "positive number"),
        ("sample_rate", 16000.5, "positive integer"),
    ],
)
def test_bad_fields_are_rejected(tmp_path: Path, key: str, value, message: str) -> None:
    entries = _entries(tmp_path, 2)
    entries[1][key] = value
    path = write_manifest(entries, tmp_path / "m.jsonl")
    with pytest.raises(ManifestError, match=rf"line 2: .*{message}"):
        read_manifest(path, check=False)


def test_missing_key_is_named(tmp_path: Path) -> None:
    entries = _entries(tmp_path, 1)
    del entries[0]["speaker"]
    with pytest.raises(ManifestError, match="line 1: missing key"):
        read_manifest(write_manifest(entries, tmp_path / "m.jsonl"))


def test_missing_and_corrupt_files_are_listed_in_one_line(tmp_path: Path) -> None:
    entries = _entries(tmp_path, 5)
    Path(entries[1]["path"]).unlink()
    Path(entries[3]["path"]).write_bytes(b"this is not audio at all" * 20)
    path = write_manifest(entries, tmp_path / "m.jsonl")
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    msg = str(err.value)
    assert "\n" not in msg and "2 bad audio file(s)" in msg
    assert f"line 2: {entries[1]['path']} (no such file)" in msg
    assert f"line 4: {entries[3]['path']}" in msg and "not a readable audio file" in msg
    assert read_manifest(path, check=False) == entries  # check=False only validates the lines


def test_truncated_wav_and_flac_are_rejected(tmp_path: Path) -> None:
    entries = _entries(tmp_path, 2, "wav") + _entries(tmp_path, 2, "flac")
    for e in (entries[0], entries[2]):
        data = Path(e["path"]).read_bytes()
        Path(e["path"]).write_bytes(data[: len(data) // 2])
    with pytest.raises(ManifestError) as err:
        read_manifest(write_manifest(entries, tmp_path / "m.jsonl"))
    msg = str(err.value)
    assert "2 bad audio file(s)" in msg and "line 1:" in msg and "line 3:" in msg and "truncated" in msg


def test_many_bad_files_are_summarised(tmp_path: Path) -> None:
    entries = _entries(tmp_path, 6)
    for e in entries:
        Path(e["path"]).unlink()
    with pytest.raises(ManifestError, match=r"6 bad audio file\(s\): .*; and 3 more$"):
        read_manifest(write_manifest(entries, tmp_path / "m.jsonl"))


def test_mixture_manifest_checks_its_files(tmp_path: Path) -> None:
    mix, s1 = write(tmp_path / "mix.wav", tone(1.0)), write(tmp_path / "s1.wav", tone(1.0))
    row = {"id": "a", "mixture": str(mix), "sources": [str(s1)], "noise": None, "duration": 1.0, "sample_rate": 16000}
    path = tmp_path / "mixtures.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert read_mixture_manifest(path)[0]["id"] == "a"
    s1.unlink()
    with pytest.raises(ManifestError, match="s1.wav"):
        read_mixture_manifest(path)


def test_split_groups_is_deterministic_and_complete() -> None:
    groups = [f"spk{i}" for i in range(20)]
    a = split_groups(groups, 0.1, 0.2, seed=3)
    assert a == split_groups(list(reversed(groups)), 0.1, 0.2, seed=3)
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "dev", "test")}
    assert counts == {"train": 14, "dev": 2, "test": 4}
    assert sorted(split_groups(["a", "b", "c"], 0.01, 0.01).values()) == ["dev", "test", "train"]  # one each
    assert set(split_groups(["a", "b"], 0.1, 0.1).values()) == {"train"}  # too few groups to hold out

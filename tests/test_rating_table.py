"""Ratings tables (`sepkit data rate --table`): scores follow the samples, not the paths, and no other scorer's."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sepkit.data.quality as quality
from data_fixtures import tone, write
from sepkit.data.manifest import file_entry, read_manifest, write_manifest
from sepkit.data.rating_table import rate_with_table, read_table, write_table
from sepkit.errors import ManifestError


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace DNSMOS by a score of each file's RMS, and record which files were rated."""
    calls: list[str] = []

    def fake(path: str) -> dict[str, float]:
        calls.append(Path(path).name)
        rms = float(np.sqrt(np.mean(sf.read(path)[0] ** 2)))
        return {k: round(1.0 + rms + i, 4) for i, k in enumerate(quality.RATING_KEYS)}

    monkeypatch.setattr(quality, "rate_file", fake)
    return calls


def _corpus(root: Path, freqs: tuple[int, ...] = (180, 240, 300)) -> Path:
    entries = [
        file_entry(write(root / f"s{i}.wav", tone(1.0, freq=f)), "train", "speech", f"k{i}")
        for i, f in enumerate(freqs)
    ]
    entries.append(file_entry(write(root / "dev.wav", tone(1.0, freq=400)), "dev", "speech", "d"))
    return write_manifest(entries, root / "speech.jsonl")


def test_a_table_spares_rating_the_same_samples_again_under_other_paths(tmp_path: Path, counted: list[str]) -> None:
    table = tmp_path / "ratings.json.gz"
    first = _corpus(tmp_path / "a")
    out_a, rated, given = rate_with_table(first, tmp_path / "a" / "rated.jsonl", table, split="train")
    assert (rated, given) == (3, 0) and sorted(counted) == ["s0.wav", "s1.wav", "s2.wav"]
    assert len(read_table(table)) == 3

    # The same samples rebuilt elsewhere (another root, FLAC instead of WAV): nothing is rated again.
    counted.clear()
    entries = []
    for e in read_manifest(first):
        samples, rate = sf.read(e["path"], dtype="float32")
        flac = write(tmp_path / "b" / (Path(e["path"]).stem + ".flac"), samples, rate, subtype="PCM_16")
        entries.append({**e, "path": str(flac)})
    second = write_manifest(entries, tmp_path / "b" / "speech.jsonl")
    out_b, rated, given = rate_with_table(second, tmp_path / "b" / "rated.jsonl", table, split="train")
    assert (rated, given) == (0, 3) and counted == []
    assert _train_scores(out_b) == _train_scores(out_a)
    assert all(not quality.rated(e) for e in read_manifest(out_b) if e["split"] == "dev")


def _train_scores(rated_manifest: Path) -> list[dict[str, float]]:
    return [{k: e[k] for k in quality.RATING_KEYS} for e in read_manifest(rated_manifest) if e["split"] == "train"]


def test_a_changed_file_is_rated_again_and_added(tmp_path: Path, counted: list[str]) -> None:
    table = tmp_path / "ratings.json.gz"
    manifest = _corpus(tmp_path / "a")
    rate_with_table(manifest, tmp_path / "a" / "rated.jsonl", table, split="train")
    counted.clear()
    write(tmp_path / "a" / "s1.wav", 0.5 * tone(1.0, freq=240))  # one file changes (another build, another level)
    _, rated, given = rate_with_table(manifest, tmp_path / "a" / "again.jsonl", table, split="train")
    assert (rated, given) == (1, 2) and counted == ["s1.wav"]
    assert len(read_table(table)) == 4  # the old samples' rating stays: a table only grows


def test_the_table_is_byte_stable_and_refuses_another_scorer(tmp_path: Path) -> None:
    ratings = {"ab" * 32: dict(zip(quality.RATING_KEYS, (3.1, 3.4, 3.9, 3.6)))}
    one, two = write_table(tmp_path / "1.json.gz", ratings), write_table(tmp_path / "2.json.gz", ratings)
    assert one.read_bytes() == two.read_bytes() and read_table(one) == ratings
    table = json.loads(gzip.decompress(one.read_bytes()))
    table["scorer"] = "some other dnsmos 0.1"
    (tmp_path / "other.json.gz").write_bytes(gzip.compress(json.dumps(table).encode()))
    with pytest.raises(ManifestError, match="made by 'some other dnsmos 0.1'"):
        read_table(tmp_path / "other.json.gz")
    (tmp_path / "junk.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ManifestError, match="not a ratings table"):
        read_table(tmp_path / "junk.json.gz")


def test_cli_rate_with_a_table_reports_what_it_took(
    tmp_path: Path, counted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from sepkit.cli.main import main

    manifest = _corpus(tmp_path)
    table = tmp_path / "t.json.gz"
    assert (
        main(["data", "rate", str(manifest), str(tmp_path / "r1.jsonl"), "--split", "train", "--table", str(table)])
        == 0
    )
    assert (
        main(["data", "rate", str(manifest), str(tmp_path / "r2.jsonl"), "--split", "train", "--table", str(table)])
        == 0
    )
    assert "0 files rated now, 3 taken from" in capsys.readouterr().out
    (tmp_path / "bad.json.gz").write_bytes(b"junk")
    code = main(["data", "rate", str(manifest), str(tmp_path / "r3.jsonl"), "--table", str(tmp_path / "bad.json.gz")])
    err = capsys.readouterr().err
    assert code == 2 and "not a ratings table" in err and "Traceback" not in err


def test_the_committed_demo_table_loads_with_the_pinned_scorer() -> None:
    table = Path(__file__).resolve().parent.parent / "recipes" / "enhance" / "demo_speech_ratings.json.gz"
    ratings = read_table(table)  # refused if the pinned speechmos no longer matches the one that made it
    assert len(ratings) > 8000 and all(len(d) == 64 for d in ratings)
    assert all(0.0 < v <= 5.0 for scores in ratings.values() for v in scores.values())  # the fitted MOS dips below 1

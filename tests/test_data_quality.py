"""Rating manifests with DNSMOS (`sepkit data rate`) and keeping the clean files (`speech_min`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from data_fixtures import noise_corpus, tone, white, write
from sepkit.data.manifest import file_entry, read_manifest, write_manifest
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset
from sepkit.data.quality import RATING_KEYS, keep_at_least, rate_manifest
from sepkit.errors import ManifestError


def _corpus(root: Path) -> Path:
    """Two clean-ish tones and two of the same buried in loud white noise (train), one dev file."""
    entries = []
    for i in range(2):
        entries.append(
            file_entry(
                write(root / f"clean{i}.wav", tone(2.0, freq=180 + 60 * i, noise=0.0)), "train", "speech", f"c{i}"
            )
        )
        noisy = tone(2.0, freq=180 + 60 * i, noise=0.0) + white(2.0, seed=i, level=0.2)
        entries.append(file_entry(write(root / f"noisy{i}.wav", np.clip(noisy, -1, 1)), "train", "speech", f"n{i}"))
    entries.append(file_entry(write(root / "dev.wav", tone(1.0)), "dev", "speech", "d"))
    return write_manifest(entries, root / "speech.jsonl")


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("quality")
    manifest = _corpus(root)
    out, count = rate_manifest(manifest, root / "rated.jsonl", split="train")
    assert count == 4
    return manifest, out


def test_rating_adds_dnsmos_to_the_chosen_split_only(rated: tuple[Path, Path]) -> None:
    manifest, out = rated
    entries = read_manifest(out)
    assert [e["path"] for e in entries] == [e["path"] for e in read_manifest(manifest)]
    for e in entries:
        has = all(k in e for k in RATING_KEYS)
        assert has == (e["split"] == "train")
    by_name = {Path(e["path"]).stem: e for e in entries}
    for i in range(2):  # white noise at -4 dB SNR must rate worse on background than the same tone alone
        assert by_name[f"noisy{i}"]["dnsmos_bak"] < by_name[f"clean{i}"]["dnsmos_bak"]


def test_rerun_resumes_without_rating_again(rated: tuple[Path, Path], tmp_path: Path) -> None:
    manifest, out = rated
    partial = tmp_path / "partial.jsonl"
    lines = out.read_text().splitlines()
    first = json.loads(lines[0])
    # A partial output (as after an interruption): only the first file rated, with a marker score.
    first["dnsmos_bak"] = 9.0
    write_manifest([first], partial)
    _, count = rate_manifest(manifest, partial, split="train")
    assert count == 3
    again = read_manifest(partial)
    assert again[0]["dnsmos_bak"] == 9.0 and len(again) == len(lines)


def test_keep_at_least_filters_and_names_unrated_files(rated: tuple[Path, Path]) -> None:
    manifest, out = rated
    entries = [e for e in read_manifest(out) if e["split"] == "train"]
    cut = float(np.median([e["dnsmos_bak"] for e in entries]))
    kept = keep_at_least(entries, {"dnsmos_bak": cut}, "rated")
    assert 0 < len(kept) < len(entries) and all(e["dnsmos_bak"] >= cut for e in kept)
    with pytest.raises(ManifestError, match=r"clean0\.wav has no numeric 'dnsmos_bak'.*sepkit data rate"):
        keep_at_least(read_manifest(manifest), {"dnsmos_bak": 1.0}, "plain")


def test_speech_min_restricts_the_speech_a_dataset_draws(rated: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = rated
    noise = noise_corpus(tmp_path / "noise")
    cut = max(e["dnsmos_bak"] for e in read_manifest(out) if Path(e["path"]).stem.startswith("noisy"))
    ds = NoisySpeechDataset(
        out, noise, MixingOptions(split="train", segment_seconds=1.0, length=8, speech_min={"dnsmos_bak": cut + 1e-3})
    )
    assert {Path(e["path"]).stem for e in ds.speech.entries} <= {"clean0", "clean1"}
    assert all(Path(p).stem.startswith("clean") for p in (ds[i]["info"]["speech_files"][0] for i in range(8)))
    with pytest.raises(ManifestError, match="none of the 4 entries"):
        NoisySpeechDataset(out, noise, MixingOptions(split="train", speech_min={"dnsmos_bak": 99.0}))


def test_cli_rate_refuses_to_overwrite_its_input(rated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from sepkit.cli.main import main

    manifest, _ = rated
    before = manifest.read_bytes()
    code = main(["data", "rate", str(manifest), str(manifest)])
    err = capsys.readouterr().err
    assert code != 0 and "must not be the input" in err and "Traceback" not in err
    assert manifest.read_bytes() == before


def test_a_corrupt_file_stops_rating_with_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sepkit.cli.main import main

    good = write(tmp_path / "good.wav", tone(1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt not really audio")
    manifest = write_manifest(
        [file_entry(good, "train", "speech", "a"), {**file_entry(good, "train", "speech", "b"), "path": str(bad)}],
        tmp_path / "m.jsonl",
    )
    code = main(["data", "rate", str(manifest), str(tmp_path / "rated.jsonl")])
    err = capsys.readouterr().err
    assert code != 0 and "bad.wav" in err and "Traceback" not in err

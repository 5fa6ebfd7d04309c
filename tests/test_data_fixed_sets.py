"""Fixed sets: byte-identical rewrites, LibriMix layout, and reading them back as the same items."""

from __future__ import annotations

import filecmp
import math
from pathlib import Path

import pytest
import torch

from data_fixtures import noise_corpus, rir_corpus, speech_corpus, tone, write
from sepkit.data.fixed_sets import FixedSetDataset, write_fixed_set
from sepkit.data.manifest import read_mixture_manifest
from sepkit.data.mixing import MixingOptions, NoisySpeechDataset, SpeakerMixtureDataset
from sepkit.errors import ManifestError, OutputError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fixed_corpus")
    return {
        "speech": speech_corpus(root / "speech", speakers=4, split="test"),
        "noise": noise_corpus(root / "noise", split="test"),
        "rir": rir_corpus(root / "rir", split="test"),
    }


def _enh(corpus: dict[str, Path]) -> NoisySpeechDataset:
    return NoisySpeechDataset(
        corpus["speech"],
        corpus["noise"],
        MixingOptions(
            rir_manifest=corpus["rir"], reverb_prob=0.5, segment_seconds=(0.5, 0.7), split="test", length=6, seed=11
        ),
    )


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_written_twice_is_byte_identical(tmp_path: Path, corpus: dict[str, Path]) -> None:
    a = write_fixed_set(_enh(corpus), tmp_path / "a", 4).parent
    b = write_fixed_set(_enh(corpus), tmp_path / "b", 4).parent
    names = _files(a)
    assert names == _files(b) and len(names) == 4 * 3 + 1
    _, mismatch, errors = filecmp.cmpfiles(a, b, [n for n in names if n.endswith(".wav")], shallow=False)
    assert not mismatch and not errors
    text_a = (a / "manifest.jsonl").read_text().replace(str(a), "<dir>")
    assert text_a == (b / "manifest.jsonl").read_text().replace(str(b), "<dir>")
    before = (a / "mix" / "000003.wav").read_bytes()
    with pytest.raises(OutputError, match="already holds a fixed set"):
        write_fixed_set(_enh(corpus), a, 2)
    write_fixed_set(_enh(corpus), a, 2, overwrite=True)  # a smaller set leaves nothing of the old one
    assert len(_files(a)) == 2 * 3 + 1 and (a / "mix" / "000001.wav").is_file()
    write_fixed_set(_enh(corpus), a, 4, overwrite=True)
    assert (a / "mix" / "000003.wav").read_bytes() == before


def test_fixed_set_reads_back_the_same_items(tmp_path: Path, corpus: dict[str, Path]) -> None:
    ds = _enh(corpus)
    folder = write_fixed_set(ds, tmp_path / "enh", 3).parent
    rows = read_mixture_manifest(folder / "manifest.jsonl")
    assert rows[0]["split"] == "test" and rows[0]["speakers"][0].startswith("spk")
    back = FixedSetDataset(folder)
    assert len(back) == 3
    for i in range(3):
        item, ref = back[i], ds[i]
        for key in ("mixture", "sources", "noise"):
            assert torch.equal(item[key], ref[key])  # float32 WAV: exact
        assert item["snr_db"] == pytest.approx(ref["snr_db"]) and item["reverberant"] == ref["reverberant"]
    assert torch.equal(FixedSetDataset(folder / "manifest.jsonl")[1]["mixture"], back[1]["mixture"])


def test_fixed_set_survives_a_move_and_separation_layout(tmp_path: Path, corpus: dict[str, Path]) -> None:
    ds = SpeakerMixtureDataset(corpus["speech"], MixingOptions(segment_seconds=0.5, split="test", length=3), n_src=2)
    folder = write_fixed_set(ds, tmp_path / "sep", 3).parent
    assert (folder / "s2" / "000002.wav").is_file() and not (folder / "noise").exists()
    moved = folder.rename(tmp_path / "moved")
    item = FixedSetDataset(moved)[2]
    assert item["sources"].shape == (2, 8000) and math.isinf(item["snr_db"])
    assert torch.equal(item["mixture"], ds[2]["mixture"])
    with pytest.raises(ManifestError, match="asked for 5 items"):
        write_fixed_set(ds, tmp_path / "x", 5)


def test_librimix_folder_and_resampling(tmp_path: Path) -> None:
    for d in ("mix_both", "mix_clean", "mix_single", "s1", "s2", "noise"):
        write(tmp_path / d / "a_b.wav", tone(0.5, sr=8000, freq=300 + len(d)), sr=8000)
    both = FixedSetDataset(tmp_path, mix_dir="mix_both", sample_rate=16000)[0]
    assert both["sources"].shape == (2, 8000) and both["noise"].abs().sum() > 0 and both["sample_rate"] == 16000
    assert not FixedSetDataset(tmp_path, mix_dir="mix_clean")[0]["noise"].any()
    assert FixedSetDataset(tmp_path, mix_dir="mix_single")[0]["sources"].shape[0] == 1
    (tmp_path / "s2" / "a_b.wav").unlink()
    with pytest.raises(ManifestError, match="no matching source file"):
        FixedSetDataset(tmp_path, mix_dir="mix_both")
    with pytest.raises(ManifestError, match="no mixtures found"):
        FixedSetDataset(tmp_path / "s1", mix_dir="mix")

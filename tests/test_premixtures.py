"""Personalisation data: premixture items, the contrastive-mixture batch, recordings folders, speaker sets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sepkit.data.manifest import file_entry, read_manifest, read_mixture_manifest
from sepkit.data.mixing import rms
from sepkit.data.premixtures import PremixtureDataset, contrastive_pairs
from sepkit.data.recordings import native_rate, scan_recordings, total_seconds
from sepkit.data.speaker_sets import SpeakerSetOptions, write_speaker_sets
from sepkit.errors import ConfigError
from sepkit_fixtures import speechlike


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


def _write(path: Path, audio: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], list[dict]]:
    """Four 'recordings' of one speaker (split train/dev) and two noise files, as manifest entries."""
    root = tmp_path_factory.mktemp("personal")
    rng = np.random.default_rng(0)
    recordings = []
    for i in range(4):
        audio = speechlike(3.0, 8000, seed=i)[0] + 0.01 * rng.standard_normal(24000)
        recordings.append(
            file_entry(_write(root / f"rec{i}.wav", audio, 8000), "dev" if i == 3 else "train", "speech", "me")
        )
    noise = [
        file_entry(_write(root / f"noise{i}.wav", 0.1 * rng.standard_normal(16000 + 8000 * i), 16000), "train", "noise")
        for i in range(2)
    ]
    return recordings, noise


def _dataset(
    pools: tuple[list[dict], list[dict]], noise_split: str | None = None, **kwargs: object
) -> PremixtureDataset:
    recordings, noise = pools
    args = {"sample_rate": 8000, "segment_seconds": 1.0, "length": 6, "split": "train", "seed": 3, **kwargs}
    return PremixtureDataset(recordings, noise, PremixtureDataset.make_options(**args), noise_split=noise_split)


def test_premixture_items_are_normalised_mixed_at_the_drawn_snr_and_reproducible(pools) -> None:
    data = _dataset(pools)
    item = data[2]
    p = item["sources"][0]
    assert item["mixture"].shape == p.shape == item["noise"].shape == item["noise_alt"].shape == (8000,)
    torch.testing.assert_close(item["mixture"], p + item["noise"])
    assert 20 * math.log10(rms(p)) == pytest.approx(-25.0, abs=0.01)  # level-normalised premixture
    for key, snr in (("noise", item["snr_db"]), ("noise_alt", item["snr_alt_db"])):
        assert -5 <= snr <= 5
        assert 10 * math.log10(rms(p) ** 2 / rms(item[key]) ** 2) == pytest.approx(snr, abs=1e-3)
    assert not torch.allclose(item["noise"], item["noise_alt"])  # two independent injected noises
    again = _dataset(pools)[2]
    for key in ("mixture", "sources", "noise", "noise_alt"):
        torch.testing.assert_close(again[key], item[key], rtol=0, atol=0)
    data.set_epoch(1)
    assert not torch.allclose(data[2]["mixture"], item["mixture"])  # a new crop and noise every epoch
    assert {Path(_dataset(pools)[i]["info"]["recording"]).name for i in range(6)} <= {
        "rec0.wav",
        "rec1.wav",
        "rec2.wav",
    }


def test_validation_premixtures_come_from_held_out_recordings_with_the_noise_sets_own_split(pools) -> None:
    data = _dataset(pools, split="dev", noise_split="train")
    assert {Path(data[i]["info"]["recording"]).name for i in range(len(data))} == {"rec3.wav"}


def test_contrastive_pairs_positives_share_a_premixture_negatives_share_the_noise() -> None:
    g = torch.Generator().manual_seed(0)
    p, n, n_alt = (torch.randn(6, 50, generator=g) for _ in range(3))
    pairs = contrastive_pairs(p, n, n_alt)
    assert pairs.positive.tolist() == [True] * 3 + [False] * 3  # 50 % positives
    for i in range(6):
        torch.testing.assert_close(pairs.x1[i], p[i] + n[i])
        torch.testing.assert_close(pairs.p1[i], p[i])
        if pairs.positive[i]:  # same premixture, different injected noises
            torch.testing.assert_close(pairs.p2[i], p[i])
            torch.testing.assert_close(pairs.x2[i], p[i] + n_alt[i])
            assert not torch.allclose(pairs.x2[i] - pairs.p2[i], pairs.x1[i] - pairs.p1[i])
        else:  # different premixtures, the same injected noise
            j = int(pairs.second[i])
            assert j != i
            torch.testing.assert_close(pairs.p2[i], p[j])
            torch.testing.assert_close(pairs.x2[i] - pairs.p2[i], pairs.x1[i] - pairs.p1[i])
    flags = torch.tensor([False, True, False, True])
    assert contrastive_pairs(p[:4], n[:4], n_alt[:4], flags).second.tolist() == [1, 1, 3, 3]
    with pytest.raises(ValueError, match="two or more"):
        contrastive_pairs(p[:1], n[:1], n_alt[:1], torch.tensor([False]))


def test_scan_recordings_keeps_pieces_of_a_recording_together(tmp_path: Path) -> None:
    for stem in ("talk_1", "talk_2", "talk_3", "walk", "call", "memo", "note"):
        _write(tmp_path / "me" / f"{stem}.wav", np.zeros(800) + 0.01, 8000)
    _write(tmp_path / "wide.wav", np.zeros(3200) + 0.01, 16000)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    entries, problems = scan_recordings(tmp_path)
    assert len(entries) == 8 and len(problems) == 1 and "broken.wav" in problems[0]
    split = {Path(e["path"]).stem: e["split"] for e in entries}
    assert len({split["talk_1"], split["talk_2"], split["talk_3"]}) == 1
    assert "dev" in split.values() and "train" in split.values()
    assert total_seconds(entries) == pytest.approx(0.7 + 0.2) and native_rate(entries) == 8000


def test_speaker_sets_split_by_utterance_and_mix_the_premixtures_at_their_snr(tmp_path: Path) -> None:
    speech = [
        file_entry(
            _write(tmp_path / "corpus" / f"u{i}.wav", speechlike(1.5, 16000, seed=i)[0], 16000), "test", "speech", "spk"
        )
        for i in range(10)
    ]
    rng = np.random.default_rng(1)
    noise = {
        s: [
            file_entry(
                _write(tmp_path / "corpus" / f"{s}{k}.wav", 0.05 * rng.standard_normal(16000), 16000), s, "noise"
            )
            for k in range(2)
        ]
        for s in ("train", "dev", "test")
    }
    opts = SpeakerSetOptions(n_dev=2, n_test=3, segment_seconds=1.0, premixture_snr=(5.0, 5.0))
    out = tmp_path / "spk"
    written = write_speaker_sets(speech, "spk", noise["dev"], noise["test"], noise["train"], out, opts)
    mine = read_manifest(written["speech"], check=False)
    splits = {e["path"]: e["split"] for e in mine}
    assert sorted(set(splits.values())) == ["dev", "test", "train"]
    recordings = read_manifest(written["recordings"])
    assert len(recordings) == sum(s == "train" for s in splits.values())
    for e in recordings:  # each premixture = its clean utterance + environment noise at 5 dB
        mix, clean = sf.read(e["path"])[0], sf.read(e["clean"])[0]
        assert 10 * math.log10(np.sum(clean**2) / np.sum((mix - clean) ** 2)) == pytest.approx(5.0, abs=0.01)
        assert splits[[p for p in splits if Path(p).stem in e["path"]][0]] == "train"
    test = read_mixture_manifest(written["test"])
    assert len(test) == 3 and all(splits[r["speech_files"][0]] == "test" for r in test)
    assert all(Path(r["noise_file"]).name.startswith("test") for r in test)
    assert {json.loads(line)["split"] for line in written["inject_noise"].open()} == {"train"}


def test_with_clean_gives_the_same_crop_of_each_recordings_clean_version(pools, tmp_path: Path) -> None:
    recordings, noise = pools
    twins = []
    for e in recordings:  # a "clean version" sample-aligned with the recording: half of it
        audio, rate = sf.read(e["path"], dtype="float32")
        twins.append({**e, "clean": str(_write(tmp_path / Path(e["path"]).name, 0.5 * audio, rate))})
    options = PremixtureDataset.make_options(sample_rate=8000, segment_seconds=1.0, length=6, split="train", seed=3)
    data = PremixtureDataset(twins, noise, options, with_clean=True)
    plain = _dataset(pools)
    for i in range(6):
        item = data[i]
        assert torch.allclose(item["sources"][0], plain[i]["sources"][0])  # the twin takes nothing from the draws
        assert torch.allclose(item["clean"], 0.5 * item["sources"][0], atol=2e-4)  # both 16-bit files
    with pytest.raises(ConfigError, match="no 'clean' path"):
        PremixtureDataset(
            recordings, noise, PremixtureDataset.make_options(sample_rate=8000, split="train"), with_clean=True
        )

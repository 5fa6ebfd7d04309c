"""Unpaired training data for CAE/MAE: the clean and the noisy sets never share an utterance (or a speaker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data_fixtures import noise_corpus, speech_corpus, tone, white, write
from sepkit.data.manifest import file_entry, read_manifest, write_manifest
from sepkit.data.unpaired import CLEAN, NOISY, UnpairedDataset, assign_sides, keep_side
from sepkit.errors import ConfigError
from sepkit.train.config import load_config
from sepkit.train.datasets import build_dataset
from sepkit.train.unpaired_data import utterances

RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "cae_mae"
SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo-style corpus root: manifests/speech.jsonl (6 train speakers, 3 utterances each) and noise.jsonl."""
    root = tmp_path_factory.mktemp("corpus")
    speech = speech_corpus(root / "speech", speakers=6, utts=3, seconds=1.0, split="train")
    noise = noise_corpus(root / "noise", files=2, seconds=2.0)
    (root / "manifests").mkdir()
    (root / "manifests" / "speech.jsonl").write_text(speech.read_text())
    (root / "manifests" / "noise.jsonl").write_text(noise.read_text())
    return root


def _speech_paths(dataset: object) -> set[str]:
    return {e["path"] for e in dataset.speech.entries}  # type: ignore[attr-defined]


def test_demo_config_trains_clean_and_noisy_on_disjoint_speakers(corpus: Path) -> None:
    cfg = load_config(
        RECIPES / "demo.yaml",
        [
            f"corpus={corpus}",
            "output_dir=unused",
            "data.train.clean.segment_seconds=0.5",
            "data.train.noisy.segment_seconds=0.5",
            "data.train.length=40",
        ],
    )
    ds = build_dataset(cfg["data"]["train"], "data.train", SR, 0)
    assert isinstance(ds, UnpairedDataset)
    clean, noisy = _speech_paths(ds.clean), _speech_paths(ds.noisy)
    assert clean and noisy and not clean & noisy  # not one utterance in both
    everything = {e["path"] for e in read_manifest(corpus / "manifests" / "speech.jsonl", check=False)}
    assert clean | noisy == everything  # ... and nothing of the train split is lost
    speakers = [{e["speaker"] for e in side.speech.entries} for side in (ds.clean, ds.noisy)]
    assert len(speakers[0]) == len(speakers[1]) == 3 and not speakers[0] & speakers[1]
    assert not utterances(ds.clean) & utterances(ds.noisy)

    ds.set_epoch(0)
    items = [ds[i] for i in range(40)]
    assert all(item["mixture"].shape == item["clean"].shape == (8000,) for item in items)
    assert all("sources" not in item for item in items)  # no reference of the noisy clip, not even a stand-in
    noise_only = [i for i, item in enumerate(items) if item["noise_only"]]
    assert 0 < len(noise_only) < 40  # noise_only_prob 0.3
    i = noise_only[0]
    ds.noisy.set_epoch(0)
    assert torch.allclose(items[i]["mixture"], ds.noisy[i]["noise"])  # the noise alone of that noisy item


def test_utterance_split_keeps_pieces_of_one_recording_together(tmp_path: Path) -> None:
    entries = []
    for k in range(4):
        for piece in range(2):  # two pieces cut from each original file
            p = write(tmp_path / f"r{k}_{piece}.wav", tone(0.5, SR, 200 + 30 * k, seed=k), SR)
            entries.append(file_entry(p, "train", "speech", None, package="pkg", original=f"rec{k}.wav", piece=piece))
    sides = assign_sides(entries, "utterance")
    clean, noisy = keep_side(entries, CLEAN, sides, "utterance"), keep_side(entries, NOISY, sides, "utterance")
    assert len(clean) == len(noisy) == 4
    assert not {e["original"] for e in clean} & {e["original"] for e in noisy}


def test_assign_sides_balances_the_audio_deterministically() -> None:
    entries = [{"speaker": s, "duration": d, "path": f"/{s}"} for s, d in (("a", 10), ("b", 6), ("c", 5), ("d", 1))]
    sides = assign_sides(entries, "speaker")
    assert sides == {"speaker:a": CLEAN, "speaker:b": NOISY, "speaker:c": NOISY, "speaker:d": CLEAN}  # 11 s each
    assert assign_sides(list(reversed(entries)), "speaker") == sides
    with pytest.raises(ConfigError, match="clean_fraction"):
        assign_sides(entries, "speaker", clean_fraction=1.0)


def test_the_same_utterances_on_both_sides_are_refused(corpus: Path) -> None:
    side = {
        "type": "clean_speech",
        "speech_manifest": str(corpus / "manifests" / "speech.jsonl"),
        "split": "train",
        "segment_seconds": 0.5,
    }
    noisy = {**side, "type": "noisy_speech", "noise_manifest": str(corpus / "manifests" / "noise.jsonl")}
    spec = {"type": "unpaired", "clean": side, "noisy": noisy, "disjoint_by": "none"}
    with pytest.raises(ConfigError, match="share 18 utterance"):
        build_dataset(spec, "data.train", SR, 0)
    synthetic = {"type": "synthetic", "n_items": 4, "n_src": 1, "segment_seconds": 0.25}
    with pytest.raises(ConfigError, match="share 4 utterance"):  # the same seed: the same voices
        build_dataset(
            {
                "type": "unpaired",
                "clean": {**synthetic, "seed": 3},
                "noisy": {**synthetic, "seed": 3},
                "disjoint_by": "none",
            },
            "data.train",
            8000,
            0,
        )
    with pytest.raises(ConfigError, match="disjoint_by: none"):  # synthetic data has no speakers to split
        build_dataset({"type": "unpaired", "clean": synthetic, "noisy": synthetic}, "data.train", 8000, 0)


def test_fixed_noisy_set_of_the_clean_recordings_is_split_by_speaker(tmp_path: Path) -> None:
    """VoiceBank-DEMAND style: clean files in a speech manifest, noisy versions of the same files as mixture records."""
    speech = speech_corpus(tmp_path / "clean", speakers=4, utts=2, seconds=0.5, split="train")
    records = []
    for e in read_manifest(speech, check=False):
        clean = e["path"]
        noisy = write(
            tmp_path / "noisy" / Path(clean).name.replace(".wav", f"_{e['speaker']}.wav"),
            tone(0.5, SR, 300) + white(0.5, SR, level=0.05),
            SR,
        )
        records.append(
            {
                "id": Path(noisy).stem,
                "mixture": str(noisy),
                "sources": [clean],
                "noise": None,
                "duration": e["duration"],
                "sample_rate": SR,
                "split": "train",
                "speakers": [e["speaker"]],
            }
        )
    mixtures = write_manifest(records, tmp_path / "mixtures.jsonl")
    spec = {
        "type": "unpaired",
        "disjoint_by": "speaker",
        "clean": {"type": "clean_speech", "speech_manifest": str(speech), "split": "train", "segment_seconds": 0.25},
        "noisy": {"type": "fixed", "path": str(mixtures), "split": "train", "segment_seconds": 0.25},
    }
    ds = build_dataset(spec, "data.train", SR, 0)
    noisy_records = ds.noisy.dataset.records  # RandomSegments over the fixed set
    assert len(noisy_records) == 4 and len(ds.clean.speech.entries) == 4
    assert not {r["sources"][0] for r in noisy_records} & _speech_paths(ds.clean)
    assert not {r["speakers"][0] for r in noisy_records} & {e["speaker"] for e in ds.clean.speech.entries}
    item = ds[0]
    assert item["mixture"].shape == item["clean"].shape == (4000,)
    with pytest.raises(ConfigError, match="noise signal"):  # these records hold no noise file
        UnpairedDataset(ds.clean, ds.noisy, noise_only_prob=0.99)[0]
    assert np.isfinite(item["mixture"].numpy()).all()


@pytest.mark.parametrize("name", ["tiny", "demo", "demo_nocycle", "demo_supervised", "vctk_demand", "dns"])
def test_every_recipe_resolves_with_known_keys(name: str) -> None:
    from sepkit.train.cae_mae import CAE_MAE_KEYS, WEIGHT_KEYS
    from sepkit.train.config import section

    cfg = load_config(RECIPES / f"{name}.yaml")
    opts = section(cfg, "cae_mae", CAE_MAE_KEYS)
    assert set(section(opts, "weights", WEIGHT_KEYS)) == set(WEIGHT_KEYS)
    assert cfg["model"]["arch"] == "cae_mae" and cfg["task"] == "enhance"
    train = cfg["data"]["train"]
    if cfg["paradigm"] == "cae_mae":
        assert train["type"] == "unpaired" and {"clean", "noisy"} <= set(train)
    else:  # the paired comparison
        assert name == "demo_supervised" and train["type"] == "noisy_speech"
        assert all(train.get(k) is None for k in ("clean", "noisy", "disjoint_by", "noise_only_prob"))

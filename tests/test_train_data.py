"""The dataset factory against the real sepkit.data classes, from tiny fixture manifests; every recipe's data keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.cli.main import main
from sepkit.data import MixingOptions, NoisySpeechDataset, file_entry, write_fixed_set, write_manifest
from sepkit.errors import ConfigError, ManifestError
from sepkit.pretrained import read_card
from sepkit.train.config import load_config
from sepkit.train.datasets import build_dataset
from sepkit_fixtures import speechlike

ROOT = Path(__file__).resolve().parent.parent
RATE = 8000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three speakers (two 1.5 s utterances each) and two noises, one manifest per kind, a fixed dev set."""
    root = tmp_path_factory.mktemp("corpus")
    speech, noise = [], []
    for s, speaker in enumerate(("spk1", "spk2", "spk3")):
        for u in range(2):
            path = root / "speech" / f"{speaker}_{u}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, speechlike(1.5, RATE, seed=10 * s + u)[0], RATE)
            for split in ("train", "dev"):
                speech.append(file_entry(path, split, "speech", speaker))
    rng = np.random.default_rng(0)
    for n in range(2):
        path = root / "noise" / f"noise_{n}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.05 * rng.standard_normal(2 * RATE)).astype(np.float32), RATE)
        for split in ("train", "dev"):
            noise.append(file_entry(path, split, "noise"))
    write_manifest(speech, root / "speech.jsonl")
    write_manifest(noise, root / "noise.jsonl")
    dev = NoisySpeechDataset(
        root / "speech.jsonl",
        root / "noise.jsonl",
        MixingOptions(sample_rate=RATE, segment_seconds=1.0, split="dev", seed=7, length=4),
    )
    write_fixed_set(dev, root / "enh_dev", 4, split="dev")
    return root


@pytest.mark.slow
def test_enhance_on_the_fly_noisy_speech_with_a_fixed_validation_set(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            str(ROOT / "recipes" / "enhance" / "tiny.yaml"),
            f"corpus={corpus}",
            f"output_dir={out}",
            f"export.dir={out / 'model'}",
            "data.train={type: noisy_speech, speech_manifest: '${corpus}/speech.jsonl', "
            "noise_manifest: '${corpus}/noise.jsonl', split: train, segment_seconds: 1.0, length: 8}",
            "data.valid={type: fixed, path: '${corpus}/enh_dev'}",
            "trainer.max_steps=4",
            "checkpoint.every_n_train_steps=2",
            "trainer.enable_progress_bar=false",
        ]
    )
    assert rc == 0
    meta, _ = read_card(out / "model")
    assert meta["steps"] == 4 and "si_sdri" in meta["scores"] and meta["training_data"].startswith("noisy_speech (")


@pytest.mark.slow
def test_separate_on_random_crops_of_a_fixed_set_with_on_the_fly_validation(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "run"
    fixed_train = tmp_path / "sep_train"
    from sepkit.data import SpeakerMixtureDataset

    write_fixed_set(
        SpeakerMixtureDataset(
            corpus / "speech.jsonl",
            MixingOptions(sample_rate=RATE, segment_seconds=(1.2, 1.5), split="train", length=8),
            n_src=2,
        ),
        fixed_train,
        8,
    )
    rc = main(
        [
            "train",
            str(ROOT / "recipes" / "pit" / "tiny.yaml"),
            f"output_dir={out}",
            f"export.dir={out / 'model'}",
            f"data.train={{type: fixed, path: '{fixed_train}', segment_seconds: 1.0}}",  # whole files differ in length
            f"data.valid={{type: speaker_mixture, speech_manifest: '{corpus / 'speech.jsonl'}', split: dev, "
            "segment_seconds: 1.0, length: 4}",
            "trainer.max_steps=4",
            "checkpoint.every_n_train_steps=2",
            "trainer.enable_progress_bar=false",
        ]
    )
    assert rc == 0
    assert read_card(out / "model")[0]["n_src"] == 2


def test_random_segments_cut_every_aligned_array_the_same_way(corpus: Path) -> None:
    data = build_dataset(
        {"type": "fixed", "path": str(corpus / "enh_dev"), "segment_seconds": 0.5}, "data.train", RATE, seed=3
    )
    item = data[1]
    assert item["mixture"].shape == (RATE // 2,) and item["sources"].shape == (1, RATE // 2)
    np.testing.assert_allclose(item["mixture"], item["sources"][0] + item["noise"], atol=1e-5)
    data.set_epoch(1)
    assert not np.allclose(data[1]["mixture"], item["mixture"])  # new crops each epoch


@pytest.mark.parametrize(
    "recipe",
    sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "recipes").glob("*/*.yaml")
        if not p.name.endswith("common.yaml")
    ),
)
def test_every_recipe_resolves_and_names_only_known_dataset_keys(recipe: str, tmp_path: Path) -> None:
    cfg = load_config(ROOT / recipe, [f"corpus={tmp_path}"])
    for part in ("train", "valid"):
        try:
            build_dataset(cfg["data"][part], f"data.{part}", cfg["sample_rate"], 0)
        except ConfigError:
            raise
        except ManifestError as exc:  # the corpus is not here: fine, the keys were accepted
            assert str(tmp_path) in str(exc)


class UnevenItems:
    """Two mixtures of different lengths (0.5 s and 1.0 s), in the item form write_fixed_set reads."""

    sample_rate = RATE

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        import torch

        speech = torch.from_numpy(speechlike(0.5 * (index + 1), RATE, seed=index)[0]).float()
        return {
            "mixture": speech,
            "sources": speech[None],
            "noise": torch.zeros_like(speech),
            "snr_db": float("inf"),
            "level_db": -20.0,
            "gains_db": [0.0],
            "reverberant": False,
        }


def test_a_validation_batch_that_cannot_be_stacked_is_refused_before_training(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sepkit.data import write_fixed_set

    write_fixed_set(UnevenItems(), tmp_path / "uneven", 2)
    args = [
        "train",
        str(ROOT / "recipes" / "enhance" / "tiny.yaml"),
        f"output_dir={tmp_path / 'run'}",
        f"data.valid={{type: fixed, path: '{tmp_path / 'uneven'}'}}",
        "trainer.enable_progress_bar=false",
    ]
    assert main([*args, "data.valid_batch_size=2"]) == 2
    err = capsys.readouterr().err
    assert "data.valid_batch_size=2" in err and "2 lengths" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before any step

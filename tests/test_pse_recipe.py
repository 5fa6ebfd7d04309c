"""recipes/pse and recipes/snr_estimator: every config resolves; the tiny PSE recipe trains on a speaker folder."""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.cli.main import main
from sepkit.data.manifest import file_entry
from sepkit.data.speaker_sets import SpeakerSetOptions, write_speaker_sets
from sepkit.models.snr_estimator import SnrEstimator
from sepkit.pretrained import ModelConfig, export_model, read_card
from sepkit.train.config import load_config
from sepkit_fixtures import speechlike

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


@pytest.mark.parametrize("config", sorted(p.name for p in (RECIPES / "pse").glob("*.yaml")))
def test_pse_configs_resolve(config: str) -> None:
    cfg = load_config(RECIPES / "pse" / config, ["corpus=corpora/spk"])
    assert cfg["paradigm"] == "personalize" and cfg["task"] == "enhance"
    purify = cfg["personalize"]["purify"]
    assert (purify is not None) == config.endswith("_dp.yaml")
    assert cfg["data"]["train"]["type"] == ("noisy_speech" if config == "supervised.yaml" else "premixtures")
    if config != "tiny.yaml":
        assert (
            cfg["personalize"]["init_from"] == "enhance-default" and cfg["test"]["mix"] == "corpora/spk/fixed/test/mix"
        )


@pytest.mark.parametrize("config", ["demo.yaml", "demo_music.yaml", "enhancer.yaml", "tiny.yaml"])  # common: a base
def test_snr_estimator_configs_resolve(config: str) -> None:
    cfg = load_config(RECIPES / "snr_estimator" / config)
    arch = "enhancer_snr" if config == "enhancer.yaml" else "snr_estimator"
    assert (cfg["task"], cfg["paradigm"], cfg["model"]["arch"]) == ("snr", "snr_estimator", arch)
    if arch == "enhancer_snr":  # its enhancer is a shipped causal enhancer, whose weights it copies in
        source = cfg["snr_estimator"]["enhancer_from"]
        base = json.loads((RECIPES.parent / "pretrained" / source / "config.json").read_text())
        assert source == "enhance-lowlatency" and not base["args"].get("lookahead")  # causal: no look-ahead
        assert cfg["model"]["args"]["enhancer_arch"] == base["arch"]
        assert {**cfg["model"]["args"]["enhancer"], "sample_rate": cfg["sample_rate"]} == base["args"]


def test_the_enhancer_recipe_builds_and_takes_all_of_enhance_default(tmp_path: Path) -> None:
    from sepkit.train.snr_estimator_module import SnrEstimatorModule
    from sepkit.train.warm_start import apply_init

    config = load_config(RECIPES / "snr_estimator" / "enhancer.yaml", [f"output_dir={tmp_path}"])
    module = SnrEstimatorModule(config)
    report = apply_init(module.net, module.init_spec(), config["model"]["arch"])  # strict: every tensor fits
    assert report.copied and not report.skipped_by_shape and report.into == "enhancer"


@pytest.fixture(scope="module")
def speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A speaker folder as recipes/pse/prepare.py writes it, from synthetic audio."""
    root = tmp_path_factory.mktemp("pse")
    rng = np.random.default_rng(0)

    def wav(name: str, audio: np.ndarray) -> Path:
        sf.write(root / name, audio.astype(np.float32), 16000)
        return root / name

    speech = [
        file_entry(wav(f"u{i}.wav", speechlike(2.0, 16000, seed=i)[0]), "test", "speech", "spk") for i in range(10)
    ]
    noise = {
        s: [file_entry(wav(f"{s}{k}.wav", 0.05 * rng.standard_normal(24000)), s, "noise") for k in range(2)]
        for s in ("train", "dev", "test")
    }
    opts = SpeakerSetOptions(n_dev=4, n_test=4, segment_seconds=1.0)
    write_speaker_sets(speech, "spk", noise["dev"], noise["test"], noise["train"], root / "spk", opts)
    return root / "spk"


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["personalize.method=cm", "personalize.purify={model: SNR}"]])
def test_tiny_pse_recipe_trains_on_a_speaker_folder(speaker: Path, tmp_path: Path, extra: list[str]) -> None:
    if extra:
        args = {"n_fft": 256, "hop": 64, "hidden": 8, "layers": 1}
        export_model(
            SnrEstimator(sample_rate=16000, **args),
            tmp_path / "snr",
            ModelConfig("snr_estimator", {**args, "sample_rate": 16000}, 16000, "snr", 1),
        )
        extra = [e.replace("SNR", str(tmp_path / "snr")) for e in extra]
    out = tmp_path / "run"
    argv = [
        "train",
        str(RECIPES / "pse" / "tiny.yaml"),
        f"corpus={speaker}",
        f"output_dir={out}",
        "trainer.enable_progress_bar=false",
        *extra,
    ]
    assert main(argv) == 0
    meta, _ = read_card(out / "export")
    assert meta["paradigm"] == "personalize" and meta["sample_rate"] == 8000
    assert "si_sdri" in meta["scores"]  # against the clean references of the speaker's held-out utterances


def test_supervised_upper_bound_uses_the_speakers_clean_train_utterances(speaker: Path) -> None:
    from sepkit.data.manifest import read_manifest
    from sepkit.train.datamodule import TrainingData

    data = TrainingData(load_config(RECIPES / "pse" / "supervised.yaml", [f"corpus={speaker}"]))
    train = {e["path"] for e in read_manifest(speaker / "speech.jsonl", check=False) if e["split"] == "train"}
    item = data.train_set[0]
    assert item["info"]["speech_files"][0] in train and item["sources"].shape == (1, 48000)
    assert len(data.valid_set) == 4  # fixed/dev: held-out utterances with clean references

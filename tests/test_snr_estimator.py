"""The segmental SNR estimator: model, its tiny recipe (the loss falls), export as task snr, refusal to enhance."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import sepkit
from sepkit.cli.main import main
from sepkit.errors import ModelError
from sepkit.evaluation.snr_estimation import frame_errors, recording_errors
from sepkit.models import build_model
from sepkit.pretrained import load_network, read_card
from sepkit.train.config import load_config
from sepkit.train.snr_estimator_module import SnrEstimatorModule

TINY = Path(__file__).resolve().parent.parent / "recipes" / "snr_estimator" / "tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


def test_estimator_gives_one_snr_per_frame_whatever_the_gain() -> None:
    net = build_model("snr_estimator", sample_rate=8000, n_fft=256, hop=64, hidden=8, layers=2)
    wav = torch.randn(3, 4000) * 0.1
    with torch.no_grad():
        out = net(wav)
        assert out.shape == (3, 1 + 4000 // 64)
        torch.testing.assert_close(net(wav * 30.0), out, rtol=1e-4, atol=1e-3)  # SNR does not depend on the level
    assert (net.window_seconds, net.hop_seconds) == (256 / 8000, 64 / 8000)


def test_targets_are_the_true_segmental_snr_of_synthetic_items(tmp_path: Path) -> None:
    module = SnrEstimatorModule(load_config(TINY, [f"output_dir={tmp_path}"]))
    speech = torch.ones(2, 1, 4000)
    batch = {"mixture": speech[:, 0] + 0.1, "sources": speech}  # no 'noise': it is mixture - speech
    torch.testing.assert_close(module.targets(batch), torch.full((2, 1 + 4000 // 64), 20.0), atol=1e-3, rtol=0)


@pytest.mark.slow
def test_tiny_recipe_loss_falls_and_exports_an_snr_model_that_cannot_enhance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert (
        main(["train", str(TINY), f"output_dir={out}", "trainer.max_steps=24", "trainer.enable_progress_bar=false"])
        == 0
    )
    rows = list(csv.DictReader((out / "logs" / "version_0" / "metrics.csv").open()))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) == 24
    assert np.mean(losses[-6:]) < 0.6 * np.mean(losses[:6])  # MSE in dB^2 falls
    vals = [r for r in rows if r.get("val/mae_db")]
    assert vals and all(0 <= float(r["val/weight_mae"]) <= 1 and 0 <= float(r["val/side_accuracy"]) <= 1 for r in vals)

    scores = frame_errors(str(out / "export"), TINY, items=4)
    assert scores["frames"] > 0 and scores["mae_db"] >= 0 and 0 <= scores["side_of_0db_accuracy"] <= 1
    assert 0 <= scores["weight_mae"] <= 1 and scores["mae_db_constant"] >= 0
    # on recordings whose clean versions are known (16 kHz files, resampled to the estimator's 8 kHz)
    rng = np.random.default_rng(1)
    with (tmp_path / "recordings.jsonl").open("w") as f:
        for i in range(2):
            clean = (0.1 * rng.standard_normal(16000)).astype(np.float32)
            sf.write(tmp_path / f"c{i}.wav", clean, 16000, subtype="FLOAT")
            sf.write(
                tmp_path / f"n{i}.wav",
                clean + 0.05 * rng.standard_normal(16000).astype(np.float32),
                16000,
                subtype="FLOAT",
            )
            f.write(
                json.dumps(
                    {
                        "path": str(tmp_path / f"n{i}.wav"),
                        "clean": str(tmp_path / f"c{i}.wav"),
                        "duration": 1.0,
                        "sample_rate": 16000,
                        "split": "train",
                        "kind": "speech",
                        "speaker": "me",
                    }
                )
                + "\n"
            )
    on_recordings = recording_errors(str(out / "export"), tmp_path / "recordings.jsonl", items=10)
    hop = load_network(out / "export")[0].hop
    assert on_recordings["frames"] == 2 * (1 + 8000 // hop)  # both files, resampled to 8 kHz, every frame
    assert -1 <= on_recordings["correlation"] <= 1 and on_recordings["mae_db_constant"] >= 0

    net, config = load_network(out / "export")
    assert config.task == "snr" and config.sample_rate == 8000 and type(net).__name__ == "SnrEstimator"
    meta, body = read_card(out / "export")
    assert meta["task"] == "snr" and "mae_db" in meta["scores"] and "segmental SNR estimation" in body

    with pytest.raises(ModelError, match="not an enhancer"):
        sepkit.load(out / "export")
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(800, dtype=np.float32), 8000)
    capsys.readouterr()
    assert main(["enhance", str(wav), "--model", str(out / "export"), "-o", str(tmp_path / "o.wav")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sepkit: error:")]
    assert len(errors) == 1 and "segmental SNR estimator" in errors[0]
    assert not (tmp_path / "o.wav").exists()

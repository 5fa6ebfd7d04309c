"""Every model in pretrained/: loads without pickle, has an honest card, and processes audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sepkit

from sepkit.pretrained import load_network, read_card

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
SHIPPED = sorted(d for d in PRETRAINED.iterdir() if (d / "config.json").is_file())
CARD_KEYS = {
    "name",
    "task",
    "arch",
    "sample_rate",
    "parameters",
    "training_data",
    "steps",
    "training_time",
    "device",
    "command",
    "scores",
}


def test_the_shipped_models_are_there() -> None:
    assert {"enhance-default", "separate-2spk"} <= {d.name for d in SHIPPED}


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda d: d.name)
def test_shipped_model_card_says_what_it_was_trained_on_and_how_it_scores(model_dir: Path) -> None:
    meta, body = read_card(model_dir)
    assert CARD_KEYS <= set(meta), f"{model_dir.name}: card lacks {sorted(CARD_KEYS - set(meta))}"
    config = json.loads((model_dir / "config.json").read_text())
    assert meta["name"] == config["name"] == model_dir.name
    assert meta["task"] == config["task"] and meta["sample_rate"] == config["sample_rate"]
    if config["task"] in ("enhance", "separate"):  # processors are scored on a held-out test set
        assert meta.get("test_set") and "unprocessed" in meta["test_scores"] and model_dir.name in meta["test_scores"]
    assert len(body.split()) > 50  # prose: data, training, limitations


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda d: d.name)
def test_shipped_model_loads_without_pickle_and_processes_audio(model_dir: Path) -> None:
    import torch

    names = {p.name for p in model_dir.iterdir()}
    assert names - {"curves.png"} == {"CARD.md", "config.json", "model.safetensors"}
    if "curves.png" in names:  # the training run's curves, shown by the card
        assert (model_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "](curves.png)" in (model_dir / "CARD.md").read_text()
    net, config = load_network(model_dir)
    meta, _ = read_card(model_dir)
    assert sum(p.numel() for p in net.parameters()) == meta["parameters"]
    wav = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)  # 1 s at 16 kHz
    if config.task in ("enhance", "separate"):  # through the API, which resamples to the model's rate and back
        model = sepkit.load(model_dir, device="cpu")
        out = model.enhance(wav, 16000)[None] if config.task == "enhance" else model.separate(wav, 16000)
        assert out.shape == (config.n_src, wav.shape[-1]) and np.isfinite(out).all()
        assert not np.allclose(out, 0.0)
    else:  # estimators and encoders: the raw network on audio at its own rate
        with torch.no_grad():
            raw = net(torch.from_numpy(wav[: config.sample_rate])[None])
        raw = raw[-1] if isinstance(raw, (list, tuple)) else raw
        assert torch.isfinite(raw).all()


def test_separate_ssl_outputs_sum_to_the_mixture_at_its_level_and_polarity() -> None:
    """Its SI-SDR training left level and sign free (outputs ~19 dB too loud, inverted): ``rescale`` puts them back."""
    from sepkit.audio.io import read_audio

    audio, rate = read_audio(Path(__file__).resolve().parent.parent / "examples" / "noisy.wav")
    live = audio[np.argmax(np.abs(audio).max(axis=1)), : 3 * rate]  # the example's one live channel
    mix = 0.3 * live / np.abs(live).max()
    total = sepkit.load("separate-ssl", device="cpu").separate(mix, rate).sum(0)
    gain = float(total @ mix / (total @ total))
    assert 0.8 < gain < 1.25  # the same level and polarity, within 2 dB

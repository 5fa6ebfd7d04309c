"""The STFT-domain BLSTM separator: shapes, level independence, the engine at any rate and length, and that it
learns end-to-end through the iSTFT with uPIT on the capped SI-SDR."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sepkit.errors import ModelError
from sepkit.inference import InferenceSettings, model_runner, process_array
from sepkit.metrics.sisdr import si_sdr_torch
from sepkit.models import build_model
from sepkit_fixtures import speechlike

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("mask", ["complex", "magnitude"])
@pytest.mark.parametrize("hop", [128, 256])
def test_outputs_start_as_shares_of_the_mixture_at_its_level(mask: str, hop: int) -> None:
    torch.manual_seed(0)
    model = build_model("stft_separator", hop=hop, mask=mask, hidden=32, layers=2).eval()
    x = 0.1 * torch.randn(2, 12345)
    with torch.no_grad():
        y, louder = model(x), model(30.0 * x)
    assert y.shape == (2, 2, 12345)
    assert torch.allclose(y.sum(1), x, atol=0.02)  # masks start near 1/2 each
    assert not torch.allclose(y[:, 0], y[:, 1], atol=1e-4)  # but the two outputs differ
    assert torch.allclose(louder, 30.0 * y, atol=1e-4 * 30)  # features are level-free, masks act linearly


def test_bad_arguments_are_model_errors() -> None:
    with pytest.raises(ModelError, match="mask"):
        build_model("stft_separator", mask="ratio")
    with pytest.raises(ModelError, match="hop"):
        build_model("stft_separator", n_fft=256, hop=200)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
@pytest.mark.parametrize("seconds", [0.00005, 0.3, 2.7])
def test_runs_through_the_engine_at_any_rate_and_length(rate: int, seconds: float) -> None:
    torch.manual_seed(0)
    model = build_model("stft_separator", hidden=16, layers=1).eval()
    x = 0.1 * torch.randn(2, max(1, int(seconds * rate)))
    settings = InferenceSettings(chunk_seconds=1.0, overlap_seconds=0.25)
    out = process_array(x, rate, model_runner(model, torch.device("cpu")), model.sample_rate, settings)
    assert out.shape == (2, *x.shape) and torch.isfinite(out).all()


def test_chunked_output_is_close_to_one_shot() -> None:
    """Chunks see less context than the whole file (the BLSTM is bidirectional), but the overlap-add hides it."""
    torch.manual_seed(0)
    model = build_model("stft_separator", hidden=16, layers=1).eval()
    x = torch.from_numpy(speechlike(3.0, seed=5))
    settings = InferenceSettings(chunk_seconds=1.0, overlap_seconds=0.25)
    out = process_array(x, 16000, model_runner(model, torch.device("cpu")), 16000, settings)[:, 0]
    with torch.no_grad():
        whole = model(x)[0]
    assert float(si_sdr_torch(out, whole).min()) > 25.0


def test_learns_to_separate_two_voices_with_upit_on_capped_si_sdr() -> None:
    from sepkit.train.supervised import SupervisedModule

    torch.manual_seed(0)
    config = {
        "task": "separate",
        "paradigm": "supervised",
        "sample_rate": 16000,
        "model": {"arch": "stft_separator", "args": {"hidden": 48, "layers": 1}},
        "loss": {"si_sdr": 1.0, "si_sdr_max": 30.0},
        "output_dir": "unused",
    }
    module = SupervisedModule(config)
    sources = torch.stack([torch.from_numpy(speechlike(1.0, seed=s)[0]) for s in (1, 2, 3, 4)]).view(2, 2, -1)
    mixture = sources.sum(1)
    start = float(si_sdr_torch(mixture[:, None].expand_as(sources), sources).mean())
    optimiser = torch.optim.Adam(module.parameters(), lr=3e-3)
    for _ in range(25):
        loss, _ = module.objective(module(mixture), sources)
        optimiser.zero_grad()
        loss.mean().backward()
        optimiser.step()
    with torch.no_grad():
        est = module(mixture)
    _, perm = module.objective(est, sources)
    matched = torch.gather(est, 1, perm[..., None].expand_as(est))
    assert float(si_sdr_torch(matched, sources).mean()) - start > 8.0  # about 14 dB after 25 steps


@pytest.mark.parametrize("config", ["stft.yaml", "gpu.yaml"])
def test_the_recipe_trains_on_its_data_switches(tmp_path: Path, config: str) -> None:
    """recipes/pit/stft.yaml and its GPU twin as written (every data switch on), shrunk to a few steps on a made-up corpus."""
    import csv

    from data_fixtures import noise_corpus, rir_corpus, speech_corpus
    from sepkit.cli.main import main
    from sepkit.data.fixed_sets import write_fixed_set
    from sepkit.data.mixing import MixingOptions, SpeakerMixtureDataset

    corpus = tmp_path / "corpus"
    manifests = corpus / "manifests"
    manifests.mkdir(parents=True)
    for name, made in (
        ("speech", speech_corpus(tmp_path / "s", speakers=4, split="train")),
        ("noise", noise_corpus(tmp_path / "n")),
        ("rir", rir_corpus(tmp_path / "r")),
    ):
        (manifests / f"{name}.jsonl").write_text(made.read_text())
    write_fixed_set(
        SpeakerMixtureDataset(manifests / "speech.jsonl", MixingOptions(segment_seconds=0.5, length=2)),
        corpus / "fixed" / "sep2_dev",
        2,
    )
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            str(REPO / "recipes" / "pit" / config),
            f"corpus={corpus}",
            f"output_dir={out}",
            "model.args.hidden=8",
            "model.args.layers=1",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.train.length=4",
            "data.train.segment_seconds=0.5",
            "trainer.max_steps=2",
            "validation.metrics=[]",
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader(next((out / "logs").glob("version_0/metrics.csv")).open()))
    assert any(r.get("val/si_sdri") for r in rows)


def test_the_transfer_pack_keeps_every_speaker_up_to_the_cap() -> None:
    """recipes/pit/transfer_pack.py: a speaker over the cap is cut near it, one under it keeps everything."""
    import sys

    sys.path.insert(0, str(REPO / "recipes" / "pit"))
    from transfer_pack import SPEAKER_CAP_S, capped_speech

    rows = [{"speaker": "long", "duration": 60.0, "path": f"/l{i}"} for i in range(60)]
    rows += [{"speaker": "short", "duration": 30.0, "path": f"/s{i}"} for i in range(4)]
    kept = capped_speech(rows)
    long_total = sum(r["duration"] for r in kept if r["speaker"] == "long")
    assert SPEAKER_CAP_S <= long_total < SPEAKER_CAP_S + 60.0
    assert sorted(r["path"] for r in kept if r["speaker"] == "short") == [f"/s{i}" for i in range(4)]
    assert capped_speech(rows) == kept  # seeded: the same pack every time


@pytest.mark.parametrize("mask", ["complex", "magnitude"])
def test_widening_keeps_the_masks_and_lets_the_new_units_learn(mask: str) -> None:
    """Both directions of every layer grow; the upper layers' inputs and the head find the old units' places."""
    torch.manual_seed(0)
    narrow = build_model("stft_separator", hidden=16, layers=3, mask=mask).eval()
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(0.2 * torch.randn_like(p))  # a trained-looking network, not the shares it starts as
    wide = build_model("stft_separator", hidden=24, layers=3, mask=mask).eval()
    widened = wide.load_widened(narrow.state_dict())
    assert {"blstm.weight_ih_l0", "blstm.weight_ih_l2_reverse", "blstm.bias_hh_l1", "head.weight"} <= set(widened)
    assert "head.bias" not in widened and "feat_scale" not in widened
    x = 0.05 * torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), narrow(x), atol=1e-6, rtol=1e-5)
    new_units = torch.cat([torch.arange(16, 24), torch.arange(40, 48)])
    assert wide.head.weight[:, new_units].abs().sum() == 0  # the new units start with no say in the masks...
    wide(x).pow(2).mean().backward()
    assert wide.head.weight.grad[:, new_units].abs().sum() > 0  # ...and are heard once training moves their weights


def test_widening_refuses_a_wider_deeper_or_other_source() -> None:
    wide = build_model("stft_separator", hidden=16, layers=2)
    refusal = "needs the same layers, sources and mask and at most 16 units"  # one message names every condition
    for other in (dict(hidden=24, layers=2), dict(hidden=8, layers=3), dict(n_src=3, hidden=8, layers=2)):
        with pytest.raises(ModelError, match=refusal):  # not a shape error from deep inside the loading
            wide.load_widened(build_model("stft_separator", **other).state_dict())

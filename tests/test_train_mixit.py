"""The MixIT paradigm: mixtures of mixtures, semi-supervised steps, the fixed output choice and its export."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

import sepkit
from sepkit.cli.main import main
from sepkit.errors import ConfigError
from sepkit.losses import neg_si_sdr
from sepkit.models.base import match_mixture_gain
from sepkit.pretrained import load_network, read_card
from sepkit.train.config import load_config
from sepkit.train.mixit import MixITModule, fixed_set_scores

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TINY = RECIPES / "mixit" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Training tests run on one thread: two threads on a busy 2-core machine only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _metric(out: Path, column: str) -> list[float]:
    """Every logged value of ``column`` in the run's CSV log."""
    rows = csv.DictReader((out / "logs" / "version_0" / "metrics.csv").open())
    return [float(r[column]) for r in rows if r.get(column)]


@pytest.mark.slow
def test_tiny_recipe_trains_and_exports_a_two_source_separator(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", str(TINY), f"output_dir={out}", "trainer.max_steps=16", "trainer.enable_progress_bar=false"]
    assert main(argv) == 0
    losses = _metric(out, "train/mixit_loss")
    assert len(losses) == 16 and all(math.isfinite(v) for v in losses)
    assert _metric(out, "val/si_sdri_fixed") and _metric(out, "val/si_sdri")

    model = sepkit.load(out / "export", device="cpu")
    net, config = load_network(out / "export")
    assert model.task == "separate" and model.n_src == 2 and net.n_src == 4
    outputs = config.source_outputs
    assert outputs is not None and len(outputs) == 2 and set(outputs) <= set(range(4))
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    separated = model.separate(x, 8000)
    assert separated.shape == (2, 4000)
    with torch.inference_mode():  # one chunk: the chosen outputs of the network, all put at the mixture's level
        wav = torch.from_numpy(x)[None]
        direct = match_mixture_gain(net(wav), wav)[0, outputs].numpy()
    np.testing.assert_allclose(separated, direct, atol=1e-4)
    meta, _ = read_card(out / "export")
    assert meta["paradigm"] == "mixit" and meta["source_outputs"] == outputs and meta["n_src"] == 2
    assert "si_sdri_fixed" in meta["scores"]

    # A periodic checkpoint exports with the choice of the validation before it (step 8).
    assert main(["export", str(out / "checkpoints" / "step-16.ckpt"), str(tmp_path / "step16")]) == 0
    assert len(load_network(tmp_path / "step16")[1].source_outputs or []) == 2


@pytest.mark.slow
def test_semi_supervised_steps_with_mixture_consistency(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        str(TINY),
        f"output_dir={out}",
        "trainer.max_steps=6",
        "trainer.enable_progress_bar=false",
        "mixit.semi_supervised_ratio=0.5",
        "mixit.consistency=magsq",
        "data.valid=null",
        "checkpoint.every_n_train_steps=3",
    ]
    assert main(argv) == 0
    supervised, unsupervised = _metric(out, "train/supervised_loss"), _metric(out, "train/mixit_loss")
    assert len(set(supervised)) == 3 and len(set(unsupervised)) == 3  # (the CSV repeats a value on later steps)
    assert all(math.isfinite(v) for v in supervised + unsupervised)
    # No validation, so no choice was made: the export keeps all four outputs.
    assert sepkit.load(out / "export", device="cpu").n_src == 4


def _module(tmp_path: Path, *overrides: str) -> MixITModule:
    return MixITModule(load_config(TINY, [f"output_dir={tmp_path}", *overrides]))


def test_supervised_steps_are_spread_evenly(tmp_path: Path) -> None:
    module = _module(tmp_path, "mixit.semi_supervised_ratio=0.25")
    steps = [module.supervised_step(s) for s in range(12)]
    assert sum(steps) == 3 and steps == steps[:4] * 3
    assert not any(_module(tmp_path).supervised_step(s) for s in range(12))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.batch_size=3"], "even data.batch_size"),
        (["mixit.semi_supervised_ratio=1.5"], "semi_supervised_ratio"),
        (["mixit.consistency=softmax"], "mixit.consistency"),
        (["mixit.bogus=1"], "unknown key 'mixit.bogus'"),
        (["task=enhance", "mixit.speech_outputs=4"], "speech_outputs"),
    ],
)
def test_config_errors(tmp_path: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _module(tmp_path, *overrides)


def test_mixtures_of_mixtures_from_batch_halves(tmp_path: Path) -> None:
    module = _module(tmp_path)
    mix = torch.randn(4, 100)
    pairs = module.mixtures_of({"mixture": mix})
    assert pairs.shape == (2, 2, 100)
    assert torch.equal(pairs[:, 0], mix[:2]) and torch.equal(pairs[:, 1], mix[2:])
    loss = module.mixit_objective(pairs)
    assert loss.shape == (2,) and torch.isfinite(loss).all()


def test_enhancement_pairs_noisy_speech_with_noise_and_keeps_speech_outputs_on_it(tmp_path: Path) -> None:
    module = _module(tmp_path, "task=enhance", "mixit.speech_outputs=1")
    assert module.allowed is not None and module.allowed[0].tolist() == [True, False]
    batch = {"mixture": torch.randn(4, 100), "noise": torch.randn(4, 100)}
    pairs = module.mixtures_of(batch)
    assert torch.equal(pairs[:, 0], batch["mixture"][:2]) and torch.equal(pairs[:, 1], batch["noise"][2:])
    assert torch.isfinite(module.mixit_objective(pairs)).all()
    with pytest.raises(ConfigError, match="'noise'"):
        module.mixtures_of({"mixture": batch["mixture"]})
    assert module.source_outputs == [0]


def test_supervised_loss_silences_outputs_without_reference(tmp_path: Path) -> None:
    module = _module(tmp_path)
    sources = torch.randn(2, 2, 800) * 0.1
    loss = module.supervised_loss({"mixture": sources.sum(1), "sources": sources})
    assert loss.shape == (2,) and torch.isfinite(loss).all()


def test_fixed_set_scores_equal_a_search_over_output_sets() -> None:
    g = torch.Generator().manual_seed(0)
    est, ref = torch.randn(3, 4, 300, generator=g), torch.randn(3, 2, 300, generator=g)
    scores = fixed_set_scores(est, ref)
    sets = list(itertools.combinations(range(4), 2))
    assert scores.shape == (3, len(sets))
    for i, chosen in enumerate(sets):
        best = torch.stack(
            [-neg_si_sdr(est[:, list(order)], ref).sum(-1) for order in itertools.permutations(chosen)]
        ).amax(0)
        torch.testing.assert_close(scores[:, i], best.double(), rtol=1e-5, atol=1e-4)

"""The CAE/MAE objectives: which network learns from what, and the cycle terms pulling MAE codes to the CAE's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import torch

from sepkit.errors import ConfigError
from sepkit.losses import reconstruction_loss
from sepkit.train.cae_mae import CaeMaeModule, stage_at
from sepkit.train.config import load_config
from sepkit.train.datasets import build_dataset
from sepkit.train.loader import collate
from sepkit.train.synthetic import SyntheticMixtures

TINY = Path(__file__).resolve().parent.parent / "recipes" / "cae_mae" / "tiny.yaml"
SR = 8000


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _module(*overrides: str) -> CaeMaeModule:
    return CaeMaeModule(load_config(TINY, ["output_dir=unused", *overrides]))


def _batches(config: dict[str, Any], n_items: int, size: int, seed: int = 0) -> list[dict[str, Any]]:
    """Unpaired training batches from the config's own ``unpaired`` data section (made once: data is the slow part)."""
    data = build_dataset(config["data"]["train"], "data.train", SR, seed)
    items = [data[i] for i in range(n_items)]
    return [collate(items[i : i + size]) for i in range(0, n_items - size + 1, size)]


def _grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in module.parameters()]


def test_stage_schedule_is_a_function_of_the_step() -> None:
    staged = [stage_at(s, "staged", 3, 2, True) for s in range(7)]
    assert staged == ["cae"] * 3 + ["mae"] * 2 + ["cycle"] * 2
    assert [stage_at(s, "staged", 3, 2, False) for s in range(7)] == ["cae"] * 3 + ["mae"] * 4  # the ablation
    assert {stage_at(s, "joint", 3, 2, True) for s in range(7)} == {"joint"}
    with pytest.raises(ConfigError, match="cae_mae.schedule"):
        _module("cae_mae.schedule=alternate")
    with pytest.raises(ConfigError, match="model.arch: cae_mae"):
        _module("model.arch=fast_enhancer", "model.args={}")
    with pytest.raises(ConfigError, match="cae_mae.weights.cycle"):
        _module("cae_mae.weights.cycle=1")


def test_each_stage_trains_only_its_autoencoder_and_the_cae_stays_frozen() -> None:
    module = _module()
    batch = _batches(module.config, 4, 4)[0]
    batch["noise_only"] = torch.tensor([False, True, False, False])
    cae, mae = module.net.cae, module.net.mae

    module.zero_grad()
    module.weighted(module.terms(batch, "cae")).backward()
    assert all(g is not None for g in _grads(cae)) and all(g is None for g in _grads(mae))

    module.zero_grad(set_to_none=True)
    stats = [b.clone() for b in cae.buffers()]
    terms = module.terms(batch, "cycle")
    assert set(terms) == {"recon_noisy", "kl_noisy", "noise_only", "cycle_recon", "cycle_latent", "cycle_kl"}
    assert terms["noise_only"] > 0
    module.weighted(terms).backward()
    assert all(g is None for g in _grads(cae))  # gradients pass through the CAE, never into it
    assert all(g is not None for g in _grads(mae))
    assert all(torch.equal(a, b) for a, b in zip(stats, cae.buffers()))  # BatchNorm statistics frozen too
    assert set(module.terms(batch, "mae")) == {"recon_noisy", "kl_noisy", "noise_only"}

    # joint: the CAE learns from its own clean-speech loss only
    module.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    module.weighted(module.terms(batch, "joint")).backward()
    joint = _grads(cae)
    module.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # the same ε for the CAE's terms (drawn first)
    module.weighted(module.terms(batch, "cae")).backward()
    assert all(torch.allclose(a, b) for a, b in zip(joint, _grads(cae)))

    # the authors' variant: the enhanced features go through iSTFT and STFT before the CAE re-encodes them
    module = _module("cae_mae.resynthesize_cycle=true")
    module.zero_grad(set_to_none=True)
    terms = module.terms(batch, "cycle")
    assert all(torch.isfinite(v) for v in terms.values())
    module.weighted(terms).backward()
    assert all(g is None for g in _grads(module.net.cae)) and all(g is not None for g in _grads(module.net.mae))


def test_cycle_terms_pull_mae_codes_of_noisy_speech_to_cae_codes_of_its_clean_speech() -> None:
    """Held-out pairs: ‖E_B(noisy) − E_A(clean)‖² drifts up without cycle terms and falls once they are on."""
    torch.manual_seed(0)
    module = _module(
        *[f"data.train.{side}.{key}" for side in ("clean", "noisy") for key in ("segment_seconds=0.5", "n_items=64")]
    )
    batches = _batches(module.config, 64, 8)
    held_out = SyntheticMixtures(8, SR, 1, 0.5, (0, 10), seed=99)  # not a training voice (other seed)
    pairs = collate([held_out[i] for i in range(8)])
    optimiser = torch.optim.Adam(module.parameters(), lr=3e-3, betas=(0.5, 0.999))

    def train(stage: str, steps: int) -> None:
        for step in range(steps):
            loss = module.weighted(module.terms(batches[step % len(batches)], stage))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

    def distance() -> float:
        module.net.eval()
        with torch.no_grad():
            z_noisy = module.net.mae.encoder(module.net.features(pairs["mixture"]))
            z_clean = module.net.cae.encoder(module.net.features(pairs["sources"][:, 0]))
        module.net.train()
        return float(reconstruction_loss(z_noisy, z_clean))

    train("cae", 60)
    train("mae", 40)  # no cycle terms: nothing ties the MAE's codes to the CAE's
    before = distance()
    train("cycle", 40)
    after = distance()
    assert after < 0.8 * before, (before, after)


def test_latent_moments_term_is_off_by_default_and_trains_only_the_mae() -> None:
    """Not in the paper: with a weight, the MAE's code statistics are tied to the frozen CAE's codes of clean clips."""
    batch = _batches(_module().config, 4, 4)[0]
    batch["noise_only"] = torch.tensor([False, True, False, False])
    assert "latent_moments" not in _module().terms(batch, "cycle")  # the paper's loss
    module = _module("cae_mae.weights.latent_moments=1")
    module.zero_grad(set_to_none=True)
    stats = [b.clone() for b in module.net.cae.buffers()]
    terms = module.terms(batch, "mae")
    assert set(terms) == {"recon_noisy", "kl_noisy", "noise_only", "latent_moments"} and terms["latent_moments"] > 0
    terms["latent_moments"].backward()
    assert all(g is None for g in _grads(module.net.cae))  # the CAE's codes are a fixed target
    assert any(g is not None and g.abs().sum() > 0 for g in _grads(module.net.mae.encoder))
    assert all(torch.equal(a, b) for a, b in zip(stats, module.net.cae.buffers()))


def test_moment_matching_measures_the_gap_in_mean_and_spread_per_channel() -> None:
    from sepkit.losses import moment_matching

    torch.manual_seed(0)
    target = torch.randn(6, 3, 400)
    assert float(moment_matching(target.clone(), target)) == 0.0
    shifted = target + torch.tensor([1.0, 0.0, 0.0])[None, :, None]  # channel 0's mean off by 1
    assert float(moment_matching(shifted, target)) == pytest.approx(1 / 3, rel=1e-5)
    wider = target * torch.tensor([1.0, 1.0, 3.0])[None, :, None]  # channel 2's spread tripled
    gap = float(target[:, 2].std() * 2) ** 2 + float(target[:, 2].mean() * 2) ** 2
    assert float(moment_matching(wider, target)) == pytest.approx(gap / 3, rel=1e-4)
    keep = torch.tensor([True, False, True, False, True, False])
    assert float(moment_matching(shifted, target, keep)) > 0.3  # the kept items are still off by 1 in channel 0
    assert float(moment_matching(shifted, target, torch.zeros(6, dtype=torch.bool))) == 0.0  # nothing kept


def test_mae_init_cae_starts_the_mae_as_the_trained_cae_at_its_first_step() -> None:
    shaped = ("cae_mae.mae_init=cae", "model.args.mae_dims=[32, 16]")
    later = _module(*shaped, "cae_mae.cae_steps=4")
    later.on_train_batch_start(None, 0)  # step 0 of 4 CAE steps: the MAE is still its own
    assert any(not torch.equal(v, later.net.mae.state_dict()[k]) for k, v in later.net.cae.state_dict().items())
    module = _module(*shaped, "cae_mae.cae_steps=0")
    module.on_train_batch_start(None, 0)  # the first MAE step
    for name, tensor in module.net.cae.state_dict().items():
        torch.testing.assert_close(module.net.mae.state_dict()[name], tensor)
    net = module.net.eval()
    noisy = SyntheticMixtures(n_items=1, n_src=1, sample_rate=SR, segment_seconds=1.0, snr_range=(0, 5))[0]["mixture"]
    with torch.no_grad():  # so the enhancement path begins as the CAE applied to the noisy input
        path = net(torch.as_tensor(noisy)[None])[:, 0]
        cae = net.through(torch.as_tensor(noisy)[None], net.cae.encoder, net.cae.decoder)
    torch.testing.assert_close(path, cae)
    with pytest.raises(ConfigError, match="mae_dims"):
        _module("cae_mae.mae_init=cae")  # tiny.yaml's MAE is deeper than its CAE
    with pytest.raises(ConfigError, match="schedule staged"):
        _module(*shaped, "cae_mae.schedule=joint")
    with pytest.raises(ConfigError, match="cae_mae.mae_init"):
        _module("cae_mae.mae_init=clean")

"""The deep-filter enhancer: causal, starts as a pass-through, filters across frames as documented; its loss and
learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch

from sepkit.errors import ConfigError, ModelError
from sepkit.losses import CompressedSpectrumLoss
from sepkit.models import build_model
from sepkit.models.filter_enhancer import apply_frame_filter
from sepkit.models.post_filter import apply_post_filter, post_filter_scale


def test_frame_filter_matches_the_definition() -> None:
    g = torch.Generator().manual_seed(0)
    spec = torch.randn(2, 5, 7, dtype=torch.complex64, generator=g)
    taps = torch.randn(2, 5, 7, 3, dtype=torch.complex64, generator=g)
    out = apply_frame_filter(spec, taps)
    expected = torch.zeros_like(spec)
    for t in range(7):
        for k in range(3):
            if t - k >= 0:
                expected[..., t] += taps[..., t, k] * spec[..., t - k]
    assert torch.allclose(out, expected, atol=1e-5)


def test_untrained_model_passes_the_input_through_at_its_level() -> None:
    torch.manual_seed(0)
    model = build_model("filter_enhancer").eval()
    x = 0.01 * torch.randn(1, 16000)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 1, 16000)
    ratio = float(y.pow(2).sum().sqrt() / x.pow(2).sum().sqrt())
    assert 0.7 < ratio < 1.1  # the level is the input's (tap 0 starts near 0.9)
    cos = float(torch.nn.functional.cosine_similarity(y[0], x, dim=-1))
    assert cos > 0.95


def test_output_is_causal_within_one_window() -> None:
    torch.manual_seed(0)
    model = build_model("filter_enhancer", hidden=32, layers=1).eval()
    x = torch.randn(1, 8000) * 0.1
    changed = x.clone()
    cut = 4000
    changed[:, cut:] += torch.randn(1, 8000 - cut)
    with torch.no_grad():
        a, b = model(x), model(changed)
    # Samples before cut - n_fft never see the change (its frames' windows end before it).
    early = cut - model.latency_samples
    assert torch.allclose(a[..., :early], b[..., :early], atol=1e-6)
    assert not torch.allclose(a[..., cut:], b[..., cut:], atol=1e-3)


def test_compressed_spectrum_loss_is_zero_on_a_match_and_finite_on_silence() -> None:
    loss = CompressedSpectrumLoss()
    ref = torch.randn(3, 8000) * 0.1
    assert torch.allclose(loss(ref, ref), torch.zeros(3), atol=1e-7)
    est = torch.zeros(3, 8000, requires_grad=True)
    value = loss(est, ref)
    value.sum().backward()
    assert (value > 0).all() and torch.isfinite(est.grad).all()
    assert float(loss(0.5 * ref, ref).mean()) > float(loss(0.9 * ref, ref).mean())  # level counts


@pytest.mark.parametrize("side", ["under", "over"])
def test_compressed_spectrum_loss_asymmetry_weighs_only_its_side(side: str) -> None:
    """under: bins quieter than the reference (speech removed) cost 1 + u; over: louder ones (noise left in) 1 + o."""
    ref = torch.randn(2, 8000) * 0.1
    plain = CompressedSpectrumLoss(magnitude_weight=1.0)
    asym = CompressedSpectrumLoss(magnitude_weight=1.0, **{f"{side}_weight": 2.0})
    quieter, louder = 0.5 * ref, 2.0 * ref  # every bin below / above the reference
    weighed, spared = (quieter, louder) if side == "under" else (louder, quieter)
    torch.testing.assert_close(asym(weighed, ref), 3.0 * plain(weighed, ref))
    torch.testing.assert_close(asym(spared, ref), plain(spared, ref))
    torch.testing.assert_close(asym(ref, ref), torch.zeros(2), atol=1e-7, rtol=0)
    with pytest.raises(ValueError):
        CompressedSpectrumLoss(**{f"{side}_weight": -1.0})
    from sepkit.train.supervised import SupervisedModule

    key = f"cspec_{side}"
    config = {
        "task": "enhance",
        "paradigm": "supervised",
        "sample_rate": 16000,
        "model": {"arch": "filter_enhancer", "args": {"hidden": 16, "layers": 1}},
        "loss": {"cspec": 1.0, key: 2.0},
        "output_dir": "unused",
    }
    assert getattr(SupervisedModule(config).cspec, f"{side}_weight") == 2.0
    with pytest.raises(ConfigError, match=key):  # the asymmetry of a term that is off
        SupervisedModule({**config, "loss": {key: 2.0}})


def test_linear_schedule_continues_a_planned_budget() -> None:
    from types import SimpleNamespace

    from sepkit.train.supervised import SupervisedModule

    config = {
        "task": "enhance",
        "paradigm": "supervised",
        "sample_rate": 16000,
        "model": {"arch": "filter_enhancer", "args": {"hidden": 16, "layers": 1}},
        "optim": {
            "lr": 1.0,
            "scheduler": {"name": "linear", "warmup_steps": 10, "total_steps": 1000, "start_step": 500},
        },
        "output_dir": "unused",
    }
    module = SupervisedModule(config)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            SupervisedModule,
            "trainer",
            property(lambda self: SimpleNamespace(estimated_stepping_batches=200)),
            raising=False,
        )
        out = module.configure_optimizers()
    scheduler = out["lr_scheduler"]["scheduler"]
    factor = scheduler.lr_lambdas[0]
    assert factor(0) == pytest.approx(1 - (500 - 10) / 990)  # run step 0 is budget step 500
    assert factor(499) == pytest.approx(1 - (999 - 10) / 990)
    assert factor(600) == pytest.approx(0.0) and math.isfinite(factor(10**6))


def test_post_filter_keeps_passed_bins_and_attenuates_attenuated_bins_more() -> None:
    gain = torch.linspace(0.01, 1.0, 100)
    mild, strong = post_filter_scale(gain, 0.02), post_filter_scale(gain, 0.2)
    assert torch.allclose(mild[-1], torch.tensor(1.0)) and torch.allclose(strong[-1], torch.tensor(1.0))
    assert bool((mild <= 1.0).all()) and bool((strong <= mild + 1e-7).all())
    assert bool((torch.diff(gain * strong) > 0).all())  # the filtered gain still rises with the model's gain
    assert float(gain[0] * strong[0]) < 0.01 * float(gain[0])  # a -40 dB bin goes down by more than 40 dB more
    spec = torch.randn(1, 4, 6, dtype=torch.complex64)
    assert torch.equal(apply_post_filter(0.5 * spec, spec, 0.0), 0.5 * spec)  # beta 0: off


def _noisy_taps_model(post_filter: float) -> torch.nn.Module:
    torch.manual_seed(3)
    model = build_model("filter_enhancer", hidden=16, layers=1, post_filter=post_filter).eval()
    with torch.no_grad():
        model.decode.weight.normal_(0.0, 0.2)  # gains that differ from bin to bin and frame to frame,
        model.decode.bias.zero_()  # mostly below one
    return model


def test_post_filter_lowers_the_output_and_streams_like_the_whole_signal() -> None:
    x = 0.1 * torch.randn(1, 8000)
    plain, filtered = _noisy_taps_model(0.0), _noisy_taps_model(0.2)
    with torch.no_grad():
        assert float(filtered(x).square().sum()) < 0.9 * float(plain(x).square().sum())
        spec = filtered.spectrum(x)
        whole = filtered.step_frames(spec, filtered.stream_state())
        state = filtered.stream_state()
        parts = torch.cat([filtered.step_frames(spec[..., i : i + 7], state) for i in range(0, spec.shape[-1], 7)], -1)
    assert torch.allclose(whole, parts, atol=1e-5)


@pytest.mark.parametrize("arch", ["filter_enhancer", "fast_enhancer"])
def test_widening_keeps_the_output_and_lets_the_new_units_learn(arch: str) -> None:
    torch.manual_seed(0)
    narrow = build_model(arch, hidden=16, layers=2).eval()
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(0.2 * torch.randn_like(p))  # a trained-looking network, not the pass-through start
    wide = build_model(arch, hidden=24, layers=2).eval()
    widened = wide.load_widened(narrow.state_dict())
    assert "gru.weight_hh_l1" in widened and "decode.weight" in widened and "feat_scale" not in widened
    x = 0.05 * torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), narrow(x), atol=1e-6, rtol=1e-5)
    assert wide.decode.weight[:, 16:].abs().sum() == 0  # the new units start with no say in the output...
    wide(x).pow(2).mean().backward()
    assert wide.decode.weight.grad[:, 16:].abs().sum() > 0  # ...and are heard once training moves their weights


def test_widening_refuses_a_wider_or_deeper_source() -> None:
    wide = build_model("filter_enhancer", hidden=16, layers=2)
    with pytest.raises(ModelError, match="hidden size of at most 16"):
        wide.load_widened(build_model("filter_enhancer", hidden=24, layers=2).state_dict())
    with pytest.raises(ModelError, match="same layers"):
        wide.load_widened(build_model("filter_enhancer", hidden=8, layers=3).state_dict())


def test_lookahead_uses_exactly_its_frames_and_a_model_without_it_loads_unchanged() -> None:
    torch.manual_seed(0)
    plain = build_model("filter_enhancer", hidden=16, layers=2).eval()
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.2 * torch.randn_like(p))
    ahead = build_model("filter_enhancer", hidden=16, layers=2, lookahead=2).eval()
    assert ahead.latency_samples == plain.latency_samples + 2 * plain.hop
    assert set(ahead.load_widened(plain.state_dict())) == {"ahead.weight", "decode.weight", "decode.bias"}
    x = 0.05 * torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(ahead(x), plain(x), atol=1e-6, rtol=1e-5)  # the same output, at the same time
        ahead.ahead.weight.normal_(0.0, 0.5)  # now let the look-ahead frames speak
        cut = 4000
        changed = x.clone()
        changed[:, cut:] += torch.randn(1, 8000 - cut)
        a, b = ahead(x), ahead(changed)
    early = cut - ahead.latency_samples  # no output sample hears input more than its latency later...
    assert torch.allclose(a[..., :early], b[..., :early], atol=1e-6)
    assert not torch.allclose(a[..., early : cut - plain.latency_samples], b[..., early : cut - plain.latency_samples])
    # ...and within the two look-ahead hops it does hear it: what a model without look-ahead cannot


def _trained_looking_ahead() -> torch.nn.Module:
    """A small filter_enhancer with 2 frames of look-ahead and weights moved away from its pass-through start."""
    torch.manual_seed(0)
    plain = build_model("filter_enhancer", hidden=16, layers=2, lookahead=2).eval()
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return plain


def _assert_streams_as_one(model: torch.nn.Module, x: torch.Tensor, frames: int) -> None:
    """``step_frames`` over ``x``'s spectrum in pieces of ``frames`` gives what it gives in one go."""
    with torch.no_grad():
        spec = model.spectrum(x)
        whole = model.step_frames(spec, model.stream_state())
        state = model.stream_state()
        parts = [model.step_frames(spec[..., i : i + frames], state) for i in range(0, spec.shape[-1], frames)]
    assert torch.allclose(whole, torch.cat(parts, -1), atol=1e-5)


def _grown_unchanged_then_heard(args: dict, layer: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """``_trained_looking_ahead()`` widened into a model with ``args`` (its new input's read-out ``layer`` the
    only tensor grown): the same output and latency, until ``layer``'s weights move; the model and the input."""
    plain = _trained_looking_ahead()
    grown = build_model("filter_enhancer", hidden=16, layers=2, lookahead=2, **args).eval()
    assert grown.latency_samples == plain.latency_samples
    assert grown.load_widened(plain.state_dict()) == [f"{layer}.weight"]
    x = 0.05 * torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), plain(x), atol=1e-6, rtol=1e-5)
        getattr(grown, layer).weight.normal_(0.0, 0.5)
        assert not torch.allclose(grown(x), plain(x), atol=1e-3)
    return grown, x


def test_noise_floor_input_loads_from_a_model_without_it_unchanged_then_is_heard() -> None:
    floored, x = _grown_unchanged_then_heard({"noise_floor": 0.5}, "floor_in")  # the floor looks only back
    _assert_streams_as_one(floored, x, 5)
    with pytest.raises(ModelError, match="noise_floor >= 0"):
        build_model("filter_enhancer", noise_floor=-1.0)


def test_spectral_context_loads_unchanged_then_is_heard_stays_causal_and_streams() -> None:
    context, x = _grown_unchanged_then_heard({"spectral_context": 4}, "context_in")  # no further ahead
    with torch.no_grad():
        cut = 4000
        changed = x.clone()
        changed[:, cut:] += torch.randn(1, 8000 - cut)
        a, b = context(x), context(changed)
        early = cut - context.latency_samples
        assert torch.allclose(a[..., :early], b[..., :early], atol=1e-6)  # still causal within its latency
    _assert_streams_as_one(context, x, 3)
    with pytest.raises(ModelError, match="spectral_context >= 0"):
        build_model("filter_enhancer", spectral_context=-1)


def test_lr_scale_gives_matching_parameters_their_own_rate_through_the_schedule() -> None:
    from types import SimpleNamespace

    from sepkit.train.supervised import SupervisedModule

    def optimiser_for(lr_scale: dict) -> dict:
        config = {
            "task": "enhance",
            "paradigm": "supervised",
            "sample_rate": 16000,
            "model": {"arch": "filter_enhancer", "args": {"hidden": 16, "layers": 1, "spectral_context": 2}},
            "optim": {"lr": 0.01, "lr_scale": lr_scale, "scheduler": {"name": "linear", "total_steps": 100}},
            "output_dir": "unused",
        }
        module = SupervisedModule(config)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(
                SupervisedModule, "trainer", property(lambda self: SimpleNamespace(estimated_stepping_batches=100))
            )
            return module.configure_optimizers(), module

    out, module = optimiser_for({"context_*": 3.0})
    optimiser, scheduler = out["optimizer"], out["lr_scheduler"]["scheduler"]
    new = {id(p) for n, p in module.net.named_parameters() if n.startswith("context_")}
    by_lr = {round(g["lr"], 6): {id(p) for p in g["params"]} for g in optimiser.param_groups}
    assert by_lr == {0.03: new, 0.01: {id(p) for p in module.parameters()} - new} and new
    for _ in range(50):
        optimiser.step()
        scheduler.step()
    assert sorted(g["lr"] for g in optimiser.param_groups) == pytest.approx([0.005, 0.015])  # halfway, still 3x
    with pytest.raises(ConfigError, match="no parameter of the network matches 'contxt_\\*'"):
        optimiser_for({"contxt_*": 3.0})
    for bad in (0, "fast"):
        with pytest.raises(ConfigError, match="positive factors"):
            optimiser_for({"context_*": bad})

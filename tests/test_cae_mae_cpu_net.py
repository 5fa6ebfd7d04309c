"""The CPU-sized CAE/MAE network: its options build and train, its level side path, and its three recipes agree."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import torch

from sepkit.errors import ModelError
from sepkit.models import build_model
from sepkit.train.cae_mae import CaeMaeModule
from sepkit.train.config import load_config

RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "cae_mae"
SMALL = ("cpu_small.yaml", "cpu_small_nocycle.yaml", "cpu_small_supervised.yaml")
RATIO = ("cpu_small2_ratio.yaml", "cpu_small2_ratio_nocycle.yaml", "cpu_small2_ratio_supervised.yaml")
GRU_RATIO = ("cpu_gru_ratio.yaml", "cpu_gru_ratio_nocycle.yaml", "cpu_gru_ratio_supervised.yaml")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(name: str) -> dict:
    return load_config(RECIPES / name)


def test_cpu_network_builds_from_its_recipe_and_keeps_the_shapes() -> None:
    module = CaeMaeModule(_config("cpu_small.yaml"))
    net = module.net
    assert (net.n_fft, net.hop, net.power, net.level) == (512, 256, 0.3, "utterance")
    assert net.cae.encoder[0].conv.in_channels == 257 and net.mae.decoder[-1].conv.out_channels == 257
    assert net.cae.latent_dim == net.mae.latent_dim
    assert all(
        layer.depthwise is not None and layer.conv.kernel_size == (1,)
        for part in (net.cae.encoder, net.mae.decoder)
        for layer in part
    )
    paper = build_model("cae_mae")
    assert all(layer.depthwise is None for layer in paper.cae.encoder) and paper.level == "none"
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in paper.parameters()) / 20

    wav = torch.randn(2, 16001) * 0.05
    net.eval()
    with torch.no_grad():
        out = net(wav)
        z = net.mae.encoder(net.features(wav))
    assert out.shape == (2, 1, 16001) and torch.isfinite(out).all()
    assert z.shape == (2, net.mae.latent_dim, 16001 // 256 + 1)

    # a cycle-stage step on it: finite terms, gradients into the MAE only
    batch = {
        "clean": torch.randn(2, 8000) * 0.05,
        "mixture": torch.randn(2, 8000) * 0.05,
        "noise_only": torch.tensor([False, True]),
    }
    terms = module.terms(batch, "cycle")
    assert all(torch.isfinite(v) for v in terms.values())
    module.weighted(terms).backward()
    assert all(p.grad is None for p in net.cae.parameters()) and all(p.grad is not None for p in net.mae.parameters())


@pytest.mark.parametrize("separable", [False, True])
def test_the_level_side_path_makes_the_output_follow_the_input_level(separable: bool) -> None:
    """Input x10 -> enhanced output x10; the paper's network (level: none) gives the same level whatever the input's."""
    wav = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0)) * 0.05

    def gain(level: str) -> torch.Tensor:
        torch.manual_seed(1)
        net = build_model(
            "cae_mae",
            sample_rate=8000,
            n_fft=256,
            hop=128,
            cae_dims=[32, 16],
            mae_dims=[32, 24, 16],
            power=0.3,
            level=level,
            separable=separable,
        ).eval()
        with torch.no_grad():
            quiet, loud = net(wav), net(10 * wav)
        if level == "utterance":
            torch.testing.assert_close(loud, 10 * quiet, rtol=1e-4, atol=1e-5 * loud.abs().max().item())
        return loud.square().mean(-1).sqrt() / quiet.square().mean(-1).sqrt()

    assert torch.allclose(gain("utterance"), torch.full((2, 1), 10.0), rtol=1e-3)
    assert (gain("none") < 2).all()  # the encoders drop the level and the decoder cannot give it back


def test_level_side_path_features_are_level_free_and_resynthesis_restores_the_input() -> None:
    net = build_model(
        "cae_mae",
        sample_rate=8000,
        n_fft=256,
        hop=64,
        cae_dims=[16, 8],
        mae_dims=[16, 8],
        level="utterance",
        separable=True,
    ).eval()
    wav = torch.randn(3, 4001) * 0.1
    spec = net.spectrum(wav)
    feats = net.compress(spec)
    assert torch.allclose(feats.mean((-2, -1)), torch.ones(3), atol=1e-5)  # every clip at one level
    assert torch.allclose(net.features(7 * wav), feats, rtol=1e-4, atol=1e-4)  # up to the |X|² floor
    assert torch.allclose(net.resynthesize(feats, spec, 4001), wav, atol=1e-4)  # x g, with the input's phase
    slim, args = net.inference_only(
        {
            "sample_rate": 8000,
            "n_fft": 256,
            "hop": 64,
            "cae_dims": [16, 8],
            "mae_dims": [16, 8],
            "level": "utterance",
            "separable": True,
        }
    )
    with torch.no_grad():
        assert torch.allclose(slim(wav), net(wav), atol=1e-6) and args["parts"] == "enhance"
    with pytest.raises(ModelError, match="level"):
        build_model("cae_mae", level="frame")


def _budget(config: dict) -> dict:
    """What a run's budget is made of: optimiser, rate schedule and trainer, unset keys left out."""
    scheduler = {k: v for k, v in config["optim"]["scheduler"].items() if k in ("name", "total_steps")}
    trainer = {k: v for k, v in config["trainer"].items() if v is not None}
    return {**config["optim"], "scheduler": scheduler, "trainer": trainer}


@pytest.mark.parametrize("trio", [SMALL, RATIO, GRU_RATIO])
def test_each_ablation_trio_shares_network_data_steps_and_seed(trio: tuple[str, str, str]) -> None:
    configs = {name: _config(name) for name in trio}
    cycle, nocycle, supervised = (configs[name] for name in trio)
    for key in ("model", "seed", "sample_rate"):
        assert nocycle[key] == cycle[key] and supervised[key] == cycle[key], key
    assert _budget(nocycle) == _budget(cycle) and _budget(supervised) == _budget(cycle)
    assert cycle["cae_mae"]["cycle"] is True and nocycle["cae_mae"]["cycle"] is False
    assert cycle["data"] == nocycle["data"] and supervised["paradigm"] == "supervised"
    assert supervised["data"]["train"]["type"] == "noisy_speech" and cycle["data"]["train"]["type"] == "unpaired"
    assert supervised["data"]["valid"] == cycle["data"]["valid"]
    noisy_side = cycle["data"]["train"]["noisy"]
    for key in ("corrupt", "snr_range", "segment_seconds", "noise_manifest"):
        assert supervised["data"]["train"][key] == noisy_side[key], key
    assert supervised["data"]["train"]["length"] == cycle["data"]["train"]["length"]
    assert cycle["optim"]["scheduler"]["name"] == "linear"
    assert cycle["optim"]["scheduler"]["total_steps"] == cycle["trainer"]["max_steps"]
    assert 0 < cycle["cae_mae"]["cae_steps"] < cycle["trainer"]["max_steps"]
    assert len({c["output_dir"] for c in configs.values()}) == 3
    assert len({c["export"]["name"] for c in configs.values()}) == 3
    # the paper's network stays the default of every other recipe
    assert (
        "level" not in _config("cpu.yaml")["model"]["args"] and "separable" not in _config("cpu.yaml")["model"]["args"]
    )


def test_bound_caps_the_decoded_magnitude_at_the_noisy_input_and_nothing_else() -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8], level="utterance")
    free = build_model("cae_mae", **args).eval()
    capped = build_model("cae_mae", **args, bound="input").eval()
    capped.load_state_dict(free.state_dict())
    wav = torch.randn(2, 4001) * 0.1
    spec = free.spectrum(wav)
    loud = 3.0 * free.compress(spec)  # a decoder output above the input in every bin
    assert torch.allclose(capped.resynthesize(loud, spec, 4001), wav, atol=1e-4)  # capped: the input comes back
    assert free.resynthesize(loud, spec, 4001).pow(2).sum() > 10 * wav.pow(2).sum()
    quiet = 0.5 * free.compress(spec)  # below the input everywhere: the cap leaves it alone
    assert torch.allclose(capped.resynthesize(quiet, spec, 4001), free.resynthesize(quiet, spec, 4001), atol=1e-6)
    with pytest.raises(ModelError, match="bound"):
        build_model("cae_mae", bound="output")


class _Louder(torch.nn.Module):
    """A decoder that reads ``factor`` times the energy features of another."""

    def __init__(self, decoder: torch.nn.Module, factor: float) -> None:
        super().__init__()
        self.decoder, self.factor = decoder, factor

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.factor * self.decoder(code)


def test_ratio_mask_gives_back_the_input_while_the_two_decoders_agree_and_scales_it_where_they_do_not() -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8], level="utterance")
    model = build_model("cae_mae", **args, mask="ratio").eval()  # power 0.5: features are magnitudes^0.5
    model.mae.load_state_dict(model.cae.state_dict())  # mae_init: cae, the start of the MAE stages
    wav = torch.randn(2, 4001) * 0.1
    slim, slim_args = model.inference_only({**args, "mask": "ratio"})  # the MAE decoder stays in the shipped path
    assert slim_args["parts"] == "enhance" and not hasattr(slim.cae, "encoder") and hasattr(slim.mae, "decoder")
    with torch.no_grad():
        assert torch.allclose(model(wav)[:, 0], wav, atol=1e-4)  # equal readings: the gain is 1 everywhere
        assert torch.allclose(slim(wav), model(wav), atol=1e-6)
        model.mae.decoder = _Louder(model.mae.decoder, 2.0)  # the MAE decoder reads twice the CAE decoder's
        assert torch.allclose(model(wav)[:, 0], 0.25 * wav, atol=1e-4)  # gain (1/2)^(1/0.5) in every bin
        model.mae.decoder = _Louder(model.mae.decoder, 0.25)  # now half the CAE decoder's: capped at 1
        assert torch.allclose(model(wav)[:, 0], wav, atol=1e-4)
    assert not hasattr(build_model("cae_mae", **args, parts="enhance").mae, "decoder")  # the paper's path drops it
    with pytest.raises(ModelError, match="mask"):
        build_model("cae_mae", mask="wiener")


def test_time_norm_none_keeps_the_channel_averages_the_paper_encoder_divides_out() -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8], level="utterance")
    paper = build_model("cae_mae", **args).eval()
    kept = build_model("cae_mae", **args, time_norm="none").eval()
    kept.load_state_dict(paper.state_dict())  # the option adds no weights: the same state dict serves both
    features = paper.features(torch.randn(2, 8000) * 0.1)
    normalised, raw = paper.cae.encoder(features), kept.cae.encoder(features)
    assert torch.allclose(normalised.mean(-1), torch.ones(2, 8), atol=1e-4)  # every channel averages 1 over time
    assert (raw.mean(-1) - 1).abs().max() > 0.05  # without the division the averages are the encoder's own
    # not just a final division: the first layer's division changes what the second layer sees
    assert not torch.allclose(raw / raw.mean(-1, keepdim=True), normalised, atol=1e-4)
    with pytest.raises(ModelError, match="time_norm"):
        build_model("cae_mae", time_norm="batch")


@pytest.mark.parametrize("output", ["softplus", "linear"])
def test_decoder_output_drops_the_last_layers_batchnorm_and_nothing_else(output: str) -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8], level="utterance")
    paper = build_model("cae_mae", **args)
    plain = build_model("cae_mae", **args, decoder_output=output)
    for ae_paper, ae_plain in ((paper.cae, plain.cae), (paper.mae, plain.mae)):
        assert ae_paper.decoder[-1].norm is not None and ae_plain.decoder[-1].norm is None
        # every other layer, encoders included, is the paper's Conv -> BatchNorm -> Softplus
        assert all(layer.norm is not None for layer in [*ae_plain.encoder, *ae_plain.decoder[:-1]])
    # the same weights less the two output BatchNorms: the paper's state dict loads into it once those are dropped
    dropped = ("cae.decoder.1.norm.", "mae.decoder.1.norm.")
    plain.load_state_dict({k: v for k, v in paper.state_dict().items() if not k.startswith(dropped)})
    plain.train()
    features = plain.features(torch.randn(2, 8000) * 0.1)
    code = plain.cae.encoder(features)
    # BatchNorm fixes the paper's output spread over batch and time; without it the convolution sets it
    last = plain.cae.decoder[-1]
    with torch.no_grad():
        last.conv.weight.mul_(50.0)
        last.conv.bias.fill_(-20.0 if output == "linear" else 0.0)
        paper.cae.decoder[-1].conv.weight.mul_(50.0)
    out, out_paper = plain.cae.decoder(code), paper.cae.decoder(paper.cae.encoder(features))
    if output == "softplus":
        assert (out >= 0).all()  # Softplus (exactly 0 only where it underflows)
    else:
        assert (out < 0).any()  # a plain convolution: no Softplus
    assert out.std() > 10 * out_paper.std()
    with pytest.raises(ModelError, match="decoder_output"):
        build_model("cae_mae", decoder_output="tanh")


def test_encoder_output_frees_the_codes_scale_from_batchnorm() -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8], level="utterance")
    args["time_norm"] = "none"
    paper = build_model("cae_mae", **args)
    free = build_model("cae_mae", **args, encoder_output="softplus")
    for ae in (free.cae, free.mae):
        assert ae.encoder[-1].norm is None and all(layer.norm is not None for layer in [*ae.encoder[:-1], *ae.decoder])
    features = paper.features(torch.randn(2, 8000) * 0.1)
    for net in (paper, free):  # a larger last convolution: only the free code grows with it
        with torch.no_grad():
            net.cae.encoder[-1].conv.weight.mul_(20.0)
    paper_code, free_code = paper.cae.encoder(features), free.cae.encoder(features)
    assert (free_code >= 0).all() and free_code.std() > 5 * paper_code.std()
    linear = build_model("cae_mae", **args, encoder_output="linear")
    assert (linear.cae.encoder(features) < 0).any()  # a plain convolution: codes of either sign
    with pytest.raises(ModelError, match="encoder_output linear needs time_norm none"):
        build_model("cae_mae", **{**args, "time_norm": "layer"}, encoder_output="linear")
    with pytest.raises(ModelError, match="encoder_output"):
        build_model("cae_mae", encoder_output="tanh")


def test_depthwise_init_identity_starts_every_depthwise_filter_as_the_identity() -> None:
    args = dict(sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 12, 8], separable=True)
    torch.manual_seed(0)
    default = build_model("cae_mae", **args)
    torch.manual_seed(0)
    identity = build_model("cae_mae", **args, depthwise_init="identity")
    delta = torch.zeros(7)
    delta[3] = 1.0
    layers = [layer for ae in (identity.cae, identity.mae) for part in (ae.encoder, ae.decoder) for layer in part]
    assert len(layers) == 10 and all(
        torch.equal(layer.depthwise.weight[:, 0], delta.expand(layer.depthwise.in_channels, 7)) for layer in layers
    )
    assert not torch.equal(
        default.cae.encoder[0].depthwise.weight[:, 0], identity.cae.encoder[0].depthwise.weight[:, 0]
    )
    # so each separable layer starts as its 1x1 convolution alone: the time axis is not smeared
    layer, x = identity.cae.encoder[0], torch.randn(2, 129, 50)
    with torch.no_grad():
        assert torch.allclose(layer.depthwise(x), x)
    with pytest.raises(ModelError, match="depthwise_init identity needs separable true"):
        build_model("cae_mae", depthwise_init="identity")
    with pytest.raises(ModelError, match="depthwise_init"):
        build_model("cae_mae", separable=True, depthwise_init="zeros")


def test_cpu_small2_is_cpu_small_with_the_stage1_fixes_and_trains_both_stages() -> None:
    small, small2 = _config("cpu_small.yaml"), _config("cpu_small2.yaml")
    fixes = {"cae_dims": [64], "time_norm": "none", "decoder_output": "softplus", "depthwise_init": "identity"}
    assert small2["model"]["args"] == {**small["model"]["args"], **fixes}
    assert small2["data"] == {**small["data"], "train": {**small["data"]["train"], "length": 10000}}
    assert (
        small2["optim"]["scheduler"]["total_steps"] == small2["trainer"]["max_steps"] > small2["cae_mae"]["cae_steps"]
    )
    module = CaeMaeModule(small2)
    net = module.net
    assert len(net.cae.encoder) == 1 and len(net.cae.decoder) == 1 and net.cae.decoder[0].norm is None
    batch = {
        "clean": torch.randn(2, 8000) * 0.05,
        "mixture": torch.randn(2, 8000) * 0.05,
        "noise_only": torch.tensor([False, True]),
    }
    for stage, trained in (("cae", net.cae), ("cycle", net.mae)):
        net.zero_grad()
        terms = module.terms(batch, stage)
        assert all(torch.isfinite(v) for v in terms.values())
        module.weighted(terms).backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained.parameters())


def _gru_net(units: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    args = {"n_fft": 128, "hop": 64, "cae_dims": [32, 16], "mae_dims": [32, 16], "kernel_size": 3, "separable": True}
    args.update(time_norm="none", decoder_output="softplus", depthwise_init="identity")  # level none: frame-local
    return build_model("cae_mae", encoder_gru=units, **args)


def test_encoder_gru_starts_as_the_convolutions_alone_and_then_carries_the_past() -> None:
    plain, recurrent = _gru_net(0), _gru_net(24)
    recurrent.load_state_dict(plain.state_dict(), strict=False)  # same convolutions, GRU correction at zero
    wav = torch.randn(2, 4000) * 0.1
    plain.eval(), recurrent.eval()
    with torch.no_grad():
        assert torch.allclose(plain(wav), recurrent(wav), atol=1e-6)
        torch.nn.init.normal_(recurrent.mae.encoder[-1].project.weight, std=0.5)
        codes = recurrent.mae.encoder(recurrent.features(wav))
        later = wav.clone()
        later[:, 2000:] = torch.randn(2, 2000) * 0.1  # change only the second half of the input
        codes_later = recurrent.mae.encoder(recurrent.features(later))
    frames = codes.shape[-1]
    early = frames // 2 - 3  # frames that end well before the change (kernel 3, two layers: 2 frames of future)
    assert torch.allclose(codes[..., :early], codes_later[..., :early], atol=1e-6)  # causal: the past is unchanged
    assert not torch.allclose(codes[..., -1], codes_later[..., -1])
    assert recurrent(wav).shape == (2, 1, 4000)


def test_encoder_gru_trains_and_refuses_per_layer_time_norm() -> None:
    net = _gru_net(24)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    wav = torch.randn(2, 4000) * 0.1
    loss = (net.through(wav, net.mae.encoder, net.cae.decoder) - wav).square().mean()
    loss.backward()
    gru = net.mae.encoder[-1]
    assert gru.project.weight.grad.abs().sum() > 0  # the zero projection learns first; the GRU follows from it
    opt.step()
    assert gru.project.weight.abs().sum() > 0
    with pytest.raises(ModelError, match="encoder_gru"):
        build_model("cae_mae", n_fft=128, hop=64, cae_dims=[16], mae_dims=[16], encoder_gru=8)

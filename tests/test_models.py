"""Every registered architecture: builds from JSON kwargs, keeps the interface, round-trips export/load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sepkit.errors import ModelError
from sepkit.models import build_model
from sepkit.models.registry import DEFERRED, available_models, model_builder
from sepkit.pretrained import ModelConfig, export_model, load_network

# Tiny versions of each architecture, so the whole file runs in seconds.
TINY: dict[str, dict] = {
    "conv_tasnet": dict(n_filters=32, bn_chan=16, hid_chan=32, skip_chan=16, n_blocks=2, n_repeats=1),
    "dprnn": dict(n_filters=32, bn_chan=16, hid_size=16, chunk_size=20, n_repeats=1),
    "dccrn": dict(architecture="mini"),
    "sudormrf": dict(n_filters=32, bn_chan=16, out_chan=16, num_blocks=2, upsampling_depth=2),
    "sepformer": dict(n_filters=32, n_blocks=1, n_layers=1, n_heads=2, d_ffn=64, chunk_size=50),
    "fast_enhancer": dict(hidden=32, layers=1),
    "filter_enhancer": dict(hidden=32, layers=1),
    "stft_separator": dict(hidden=16, layers=1),
}
SEPARATORS = ["conv_tasnet", "dprnn", "dccrn", "sudormrf", "sepformer", "stft_separator"]


def _cases() -> list[tuple[str, dict]]:
    cases = [(arch, {**args, "n_src": n}) for arch, args in TINY.items() if arch in SEPARATORS for n in (1, 2)]
    return cases + [
        ("fast_enhancer", TINY["fast_enhancer"]),
        ("fast_enhancer", {**TINY["fast_enhancer"], "mask": "complex"}),
        ("filter_enhancer", TINY["filter_enhancer"]),
    ]


# Architectures whose outputs are not (B, K, T) waveforms from a bare waveform, or that need a
# trained encoder to build: each has its own round-trip tests in the file named here.
TESTED_ELSEWHERE = {
    "cae_mae": "test_cae_mae_train.py",
    "snr_estimator": "test_snr_estimator.py",
    "enhancer_snr": "test_enhancer_snr.py",
    "ssl_encoder": "sepkit_fixtures.py",
    "ssl_masker": "test_ssl_frontends.py",
    "ssl_blstm": "test_ssl_frontends.py",
}


def test_every_architecture_has_a_tiny_case() -> None:
    shipped = {name for name in available_models() if model_builder(name).__module__.startswith("sepkit.")}
    assert shipped == set(TINY) | set(TESTED_ELSEWHERE)
    here = Path(__file__).parent
    for arch, test_file in TESTED_ELSEWHERE.items():
        assert arch in (here / test_file).read_text(), f"{test_file} does not build {arch}"


@pytest.mark.parametrize(
    "arch, args", _cases(), ids=lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True)
)
def test_interface_and_export_round_trip(arch: str, args: dict, tmp_path) -> None:
    json.dumps(args)  # configs must be JSON
    torch.manual_seed(0)
    net = build_model(arch, **args).eval()
    assert isinstance(net, torch.nn.Module)
    assert isinstance(net.sample_rate, int) and isinstance(net.n_src, int)
    assert net.n_src == args.get("n_src", 1)
    wav = torch.randn(2, 16001)
    with torch.no_grad():
        out = net(wav)
    assert out.shape == (2, net.n_src, 16001)
    assert torch.isfinite(out).all()
    config = ModelConfig(arch=arch, args=args, sample_rate=net.sample_rate, task="separate", n_src=net.n_src)
    loaded, loaded_config = load_network(export_model(net, tmp_path / arch, config))
    assert loaded_config.args == args
    with torch.no_grad():
        torch.testing.assert_close(loaded(wav), out, rtol=0, atol=0)


def test_deferred_architectures_register_when_first_asked_for() -> None:
    """The SSL heads and encoder are not imported with sepkit.models (sepkit.ssl imports the registry)."""
    code = (
        "import sys, sepkit.models as m\n"
        "assert not {'sepkit.ssl', 'sepkit.models.ssl_masker', 'sepkit.models.ssl_blstm'} & set(sys.modules)\n"
        f"assert set({sorted(DEFERRED)!r}) <= set(m.available_models())\n"
        "assert m.registry.model_builder('ssl_blstm').__name__ == 'SslBlstm' and 'sepkit.ssl' in sys.modules\n"
        "try:\n    m.build_model('nope')\nexcept Exception as e:\n    assert 'ssl_masker' in str(e), e\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_unknown_architecture_and_bad_args() -> None:
    with pytest.raises(ModelError):
        build_model("nope")
    with pytest.raises(ModelError):
        build_model("fast_enhancer", no_such_arg=1)
    with pytest.raises(ModelError):
        build_model("fast_enhancer", mask="phase")
    with pytest.raises(ModelError):
        build_model("conv_tasnet", norm_type="nope")
    with pytest.raises(ModelError):
        build_model("sepformer", n_filters=30, n_heads=4)


@pytest.mark.parametrize("mask", ["real", "complex"])
def test_fast_enhancer_trains_and_stays_finite(mask: str) -> None:
    net = build_model("fast_enhancer", hidden=32, layers=2, mask=mask)
    noisy = torch.randn(3, 8000, requires_grad=True)
    net(noisy).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert noisy.grad is not None and torch.isfinite(noisy.grad).all()
    with torch.no_grad():
        silence = net(torch.zeros(1, 8000))
        full_scale = net(torch.rand(1, 8000) * 2 - 1)
    assert torch.isfinite(silence).all() and silence.abs().max() < 1e-6
    assert torch.isfinite(full_scale).all() and full_scale.abs().max() < 10


def test_fast_enhancer_is_level_independent_and_causal() -> None:
    net = build_model("fast_enhancer", hidden=32, layers=2, mask="complex").eval()
    wav = torch.randn(1, 8000)
    with torch.no_grad():
        out = net(wav)
        # a gain on the input scales the output and changes nothing else
        torch.testing.assert_close(net(0.01 * wav), 0.01 * out, rtol=1e-3, atol=1e-6)
        # changing the future leaves the past alone, up to the algorithmic latency
        later = wav.clone()
        later[:, 6000:] = torch.randn(1, 2000)
        cut = 6000 - net.latency_samples
        torch.testing.assert_close(net(later)[..., :cut], out[..., :cut])


def test_fast_enhancer_gain_floor_and_smoothing_keep_it_causal() -> None:
    """The gain post-processing (floor, smoothing over bins and past frames) keeps causality and bounds."""
    net = build_model("fast_enhancer", hidden=32, layers=1, mask_floor=0.2, smooth_bins=3, smooth_frames=3).eval()
    wav = torch.randn(1, 8000)
    with torch.no_grad():
        gains = net.masks(net.features(net.spectrum(wav))).real
        assert gains.min() >= 0.2 - 1e-6 and gains.max() <= net.mask_max + 1e-6
        later = wav.clone()
        later[:, 6000:] = torch.randn(1, 2000)
        cut = 6000 - net.latency_samples
        torch.testing.assert_close(net(later)[..., :cut], net(wav)[..., :cut])
    plain = build_model("fast_enhancer", hidden=32, layers=1).eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert (plain(wav) - net(wav)).abs().max() > 1e-4  # the post-processing does change the output
    with pytest.raises(ModelError, match="real mask only"):
        build_model("fast_enhancer", mask="complex", mask_floor=0.1)


def test_match_mixture_gain_restores_level_and_polarity_and_keeps_the_balance() -> None:
    from sepkit.models.base import match_mixture_gain

    g = torch.Generator().manual_seed(0)
    sources = torch.randn(2, 2, 800, generator=g) * torch.tensor([1.0, 0.3])[None, :, None]
    mix = sources.sum(1)
    est = match_mixture_gain(-7.0 * sources, mix)  # a scale-invariant loss's arbitrary level and sign
    torch.testing.assert_close(est, sources)
    silent = match_mixture_gain(torch.zeros(1, 2, 800), mix[:1])
    assert torch.equal(silent, torch.zeros(1, 2, 800))  # nothing to scale: no NaN

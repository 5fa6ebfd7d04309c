"""CAE/MAE maths: the VAE loss terms on hand-computed examples, and the autoencoders' shapes and resynthesis."""

from __future__ import annotations

import math

import pytest
import torch

from sepkit.errors import ModelError
from sepkit.losses import (
    cycle_terms,
    gaussian_kl,
    kl_unit_variance,
    masked_mean,
    reconstruction_loss,
    silence_loss,
)
from sepkit.models import build_model
from sepkit.models.cae_mae import CaeMae

T = torch.tensor


# ---- losses ----------------------------------------------------------------------------------
def test_masked_mean_over_selected_items_and_zero_for_none() -> None:
    values = T([[1.0, 2.0], [3.0, 4.0]])
    assert masked_mean(values).item() == pytest.approx(2.5)
    assert masked_mean(values, T([True, False])).item() == pytest.approx(1.5)
    assert masked_mean(values, T([False, True])).item() == pytest.approx(3.5)
    assert masked_mean(values, T([False, False])).item() == 0.0  # no such clip in the batch: no loss


def test_reconstruction_loss_is_the_mean_square_per_element() -> None:
    est = T([[[1.0, 2.0]], [[3.0, 4.0]]])  # (B=2, F=1, frames=2)
    ref = torch.zeros_like(est)
    assert reconstruction_loss(est, ref).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    assert reconstruction_loss(est, ref, T([False, True])).item() == pytest.approx((9 + 16) / 2)
    assert reconstruction_loss(est, est + 0.5).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shape mismatch"):
        reconstruction_loss(est, ref[:, :, :1])


def test_masked_items_get_no_gradient() -> None:
    est = torch.ones(2, 3, requires_grad=True)
    reconstruction_loss(est, torch.zeros(2, 3), T([True, False])).backward()
    assert est.grad is not None and est.grad[1].abs().max() == 0
    assert est.grad[0].tolist() == pytest.approx([2 / 3] * 3)  # d/dx of Σx²/3


def test_kl_is_zero_for_a_standard_normal_posterior() -> None:
    mu = torch.zeros(3, 4, 5)
    assert kl_unit_variance(mu).item() == 0.0  # posterior N(0, I) is the prior
    assert gaussian_kl(mu, torch.zeros_like(mu)).item() == 0.0
    assert gaussian_kl(mu).item() == 0.0


def test_kl_terms_on_hand_computed_values() -> None:
    z = T([[1.0, -2.0]])
    assert kl_unit_variance(z).item() == pytest.approx(2.5)  # mean(z²)
    assert gaussian_kl(z).item() == pytest.approx(1.25)  # ½ mean(z²): the exact KL of N(z, 1) to N(0, 1)
    # a wider posterior N(0, 2): ½(2 − ln 2 − 1)
    assert gaussian_kl(T([0.0]), T([math.log(2.0)])).item() == pytest.approx(0.5 * (1 - math.log(2.0)))
    z = torch.randn(4, 8, 16, generator=torch.Generator().manual_seed(0))
    assert kl_unit_variance(z).item() == pytest.approx(2 * gaussian_kl(z).item(), rel=1e-5)  # docs/methods.md §3


def test_silence_loss_only_on_noise_only_clips() -> None:
    est = T([[3.0, 4.0], [10.0, 10.0]])
    assert silence_loss(est, T([True, False])).item() == pytest.approx(12.5)
    assert silence_loss(torch.zeros(2, 2)).item() == 0.0


def test_cycle_terms_on_hand_computed_values() -> None:
    x_b = T([[[1.0, 1.0]], [[5.0, 5.0]]])
    x_bab = T([[[2.0, 0.0]], [[0.0, 0.0]]])
    z_b = T([[[0.0, 2.0]], [[7.0, 7.0]]])
    z_ba = T([[[1.0, 1.0]], [[0.0, 0.0]]])
    speech = T([True, False])  # the second clip is noise alone: no cycle terms for it
    terms = cycle_terms(x_b, z_b, z_ba, x_bab, speech)
    assert terms.reconstruction.item() == pytest.approx(1.0)  # ((2-1)² + (0-1)²) / 2
    assert terms.latent.item() == pytest.approx(1.0)  # ((1-0)² + (1-2)²) / 2
    assert terms.kl.item() == pytest.approx(1.0)  # mean(z_ba²) of the first clip
    unmasked = cycle_terms(x_b, z_b, z_ba, x_bab)
    assert unmasked.reconstruction.item() == pytest.approx((1 + 1 + 25 + 25) / 4)


# ---- the autoencoders ------------------------------------------------------------------------
def _widths(stack: torch.nn.Sequential) -> list[int]:
    return [layer.conv.out_channels for layer in stack]


def test_default_layer_sizes_follow_the_paper() -> None:
    net = build_model("cae_mae")
    assert isinstance(net, CaeMae) and net.n_src == 1 and net.sample_rate == 16000
    assert net.cae.encoder[0].conv.in_channels == 513 and net.mae.encoder[0].conv.in_channels == 513
    assert _widths(net.cae.encoder) == [512, 256, 128, 64] and _widths(net.cae.decoder) == [128, 256, 512, 513]
    assert _widths(net.mae.encoder) == [512, 400, 300, 200, 100, 64]
    assert _widths(net.mae.decoder) == [100, 200, 300, 400, 512, 513]
    assert {layer.conv.kernel_size for layer in [*net.cae.encoder, *net.mae.decoder]} == {(7,)}
    assert (net.n_fft, net.hop, net.power) == (1024, 256, 0.5)


def test_sizes_scale_with_n_fft_and_latent_widths_must_match() -> None:
    net = build_model("cae_mae", n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 12, 8])
    assert net.cae.encoder[0].conv.in_channels == 129 and net.mae.decoder[-1].conv.out_channels == 129
    with pytest.raises(ModelError, match="same latent width"):
        build_model("cae_mae", cae_dims=[16, 8], mae_dims=[16, 4])
    with pytest.raises(ModelError, match="odd"):
        build_model("cae_mae", kernel_size=4)


def test_encoder_layers_are_normalised_by_their_time_mean() -> None:
    net = build_model("cae_mae", n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8]).eval()
    feats = net.features(torch.randn(2, 4000) * 0.1)
    z = net.cae.encoder(feats)
    assert torch.all(z > 0) and torch.allclose(z.mean(-1), torch.ones(2, 8), atol=1e-4)
    out = net.cae.decoder(z)
    assert out.shape == feats.shape and torch.all(out > 0)  # decoder layers are not normalised


def test_enhancement_path_shapes_and_resynthesis_with_the_input_phase() -> None:
    net = build_model("cae_mae", sample_rate=8000, n_fft=256, hop=64, cae_dims=[16, 8], mae_dims=[16, 8]).eval()
    wav = torch.randn(3, 4001) * 0.1
    with torch.no_grad():
        out = net(wav)
        assert out.shape == (3, 1, 4001) and torch.isfinite(out).all()
        spec = net.spectrum(wav)
        # the path is iSTFT(D_A(E_B(x))^(1/p), ∠X) ...
        manual = net.resynthesize(net.cae.decoder(net.mae.encoder(net.compress(spec))), spec, 4001)
        assert torch.allclose(out[:, 0], manual, atol=1e-6)
        # ... and features resynthesised with their own phase give the input back
        assert torch.allclose(net.resynthesize(net.compress(spec), spec, 4001), wav, atol=1e-4)

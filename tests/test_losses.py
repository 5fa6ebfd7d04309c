"""Losses: criteria against float64 references, PIT against brute force and asteroid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sepkit.losses import (
    MultiResolutionSTFTLoss,
    neg_sd_sdr,
    neg_si_sdr,
    neg_snr,
    pairwise_neg_sd_sdr,
    pairwise_neg_si_sdr,
    pairwise_neg_snr,
    pairwise_thresholded_snr,
    pit_loss,
    reorder,
    thresholded_snr,
)


def _si_sdr_numpy(est: np.ndarray, ref: np.ndarray) -> float:
    est, ref = est - est.mean(), ref - ref.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return 10 * np.log10((target @ target) / ((est - target) @ (est - target)))


def _brute_force(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    k = est.shape[1]
    per_perm = [neg_si_sdr(est[:, list(p)], ref).mean(-1) for p in itertools.permutations(range(k))]
    return torch.stack(per_perm, dim=1).min(dim=1).values


def test_si_sdr_matches_float64_numpy() -> None:
    gen = torch.Generator().manual_seed(0)
    ref = torch.randn(3, 2, 4000, generator=gen)
    est = ref + 0.5 * torch.randn(3, 2, 4000, generator=gen) + 0.1
    got = -neg_si_sdr(est, ref)
    want = [[_si_sdr_numpy(est[b, k].double().numpy(), ref[b, k].double().numpy()) for k in range(2)] for b in range(3)]
    np.testing.assert_allclose(got.numpy(), np.array(want), rtol=1e-5, atol=1e-5)


def test_si_sdr_loss_of_a_silent_estimate_is_its_worst_value_and_differentiable() -> None:
    ref = torch.randn(2, 1, 4000, generator=torch.Generator().manual_seed(3))
    silent = torch.zeros(2, 1, 4000, requires_grad=True)
    loss = neg_si_sdr(silent, ref)
    torch.testing.assert_close(loss, torch.full((2, 1), 80.0))  # 10 log10(1/eps): worse than any estimate
    assert float(neg_si_sdr(torch.randn(2, 1, 4000, generator=torch.Generator().manual_seed(4)), ref).max()) < 80.0
    loss.sum().backward()
    assert silent.grad is not None and torch.isfinite(silent.grad).all()
    torch.testing.assert_close(pairwise_neg_si_sdr(silent.detach(), ref), torch.full((2, 1, 1), 80.0))


def test_si_sdr_stays_accurate_at_high_sdr() -> None:
    ref = torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(1))
    est = 3.0 * ref + 1e-4 * torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(2))
    want = _si_sdr_numpy(est[0, 0].double().numpy(), ref[0, 0].double().numpy())
    assert abs(-neg_si_sdr(est, ref).item() - want) < 1e-2


@pytest.mark.parametrize(
    "elementwise, pairwise",
    [
        (neg_si_sdr, pairwise_neg_si_sdr),
        (neg_snr, pairwise_neg_snr),
        (neg_sd_sdr, pairwise_neg_sd_sdr),
        (thresholded_snr, pairwise_thresholded_snr),
    ],
)
def test_pairwise_matrix_matches_elementwise(elementwise, pairwise) -> None:
    est, ref = torch.randn(2, 3, 1000), torch.randn(2, 3, 1000)
    pw = pairwise(est, ref)
    assert pw.shape == (2, 3, 3)
    for i, j in itertools.product(range(3), range(3)):
        torch.testing.assert_close(pw[:, i, j], elementwise(est[:, i], ref[:, j]))


def test_snr_values() -> None:
    ref = torch.ones(1, 1, 100)
    est = ref + 0.1  # error energy 1 % of the reference's
    torch.testing.assert_close(neg_snr(est, ref), torch.tensor([[-20.0]]), atol=1e-4, rtol=0)
    # the soft threshold caps the loss: a perfect estimate scores 10 log10(τ‖s‖²)
    assert thresholded_snr(ref, ref, snr_max=30.0).item() == pytest.approx(10 * np.log10(1e-3 * 100), abs=1e-4)


def test_capped_si_sdr_saturates_at_its_ceiling_only() -> None:
    gen = torch.Generator().manual_seed(3)
    ref = torch.randn(2, 2, 4000, generator=gen)
    moderate = ref + 0.3 * torch.randn(2, 2, 4000, generator=gen)  # about 10 dB
    capped, plain = neg_si_sdr(moderate, ref, sdr_max=30.0), neg_si_sdr(moderate, ref)
    # 10 log10(1 + 10^((sdr - 30)/10)) dB apart: under 0.05 dB at 10 dB
    assert torch.allclose(capped, plain, atol=0.05) and (capped > plain).all()
    perfect = (2.0 * ref).requires_grad_()
    loss = neg_si_sdr(perfect, ref, sdr_max=30.0)
    assert torch.allclose(loss, torch.full_like(loss, -30.0), atol=1e-3)  # uncapped: about -140 dB
    loss.sum().backward()
    assert perfect.grad.abs().max() < 1e-4  # an example already past the ceiling stops pulling
    pw = pairwise_neg_si_sdr(moderate, ref, sdr_max=30.0)
    torch.testing.assert_close(torch.diagonal(pw, dim1=-2, dim2=-1), capped)


def test_thresholded_snr_zero_reference_is_finite() -> None:
    est = torch.randn(2, 2, 800, requires_grad=True)
    loss = thresholded_snr(est, torch.zeros(2, 2, 800))
    assert torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(est.grad).all()
    assert torch.isfinite(thresholded_snr(torch.zeros(1, 1, 8), torch.zeros(1, 1, 8))).all()


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_pit_loss_equals_brute_force(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    ref = torch.randn(6, k, 800, generator=gen)
    est = (ref[:, torch.randperm(k, generator=gen)] + torch.randn(6, k, 800, generator=gen)).requires_grad_()
    loss, perm = pit_loss(est, ref)
    want = _brute_force(est, ref)
    torch.testing.assert_close(loss, want)
    (grad,) = torch.autograd.grad(loss.sum(), est)
    (want_grad,) = torch.autograd.grad(want.sum(), est)
    torch.testing.assert_close(grad, want_grad)
    assert perm.shape == (6, k) and perm.dtype == torch.long
    torch.testing.assert_close(neg_si_sdr(reorder(est, perm), ref).mean(-1), loss)


def test_solvers_agree() -> None:
    est, ref = torch.randn(8, 4, 500), torch.randn(8, 4, 500)
    exhaustive = pit_loss(est, ref, solver="exhaustive")
    hungarian = pit_loss(est, ref, solver="hungarian")
    torch.testing.assert_close(exhaustive[0], hungarian[0])
    assert torch.equal(exhaustive[1], hungarian[1])


def test_pit_with_more_estimates_than_references() -> None:
    ref = torch.randn(3, 2, 600)
    est = torch.cat([torch.randn(3, 2, 600), ref.flip(1)], dim=1)  # references sit at outputs 3 and 2
    _, perm = pit_loss(est, ref, pairwise_criterion=pairwise_neg_snr)
    assert perm.tolist() == [[3, 2]] * 3


def test_pit_matches_asteroid() -> None:
    from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr

    est, ref = torch.randn(4, 3, 1600), torch.randn(4, 3, 1600)
    want = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")(est, ref)
    loss, _ = pit_loss(est, ref)
    torch.testing.assert_close(loss.mean(), want)


def test_pit_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        pit_loss(torch.randn(2, 1600), torch.randn(2, 1600))
    with pytest.raises(ValueError):
        pit_loss(torch.randn(2, 1, 100), torch.randn(2, 2, 100))


def test_multi_resolution_stft_loss() -> None:
    loss_fn = MultiResolutionSTFTLoss()
    ref = torch.randn(2, 2, 8000)
    est = (ref + 0.3 * torch.randn(2, 2, 8000)).requires_grad_()
    loss = loss_fn(est, ref)
    assert loss.dim() == 0 and loss.item() > 0
    loss.backward()
    assert torch.isfinite(est.grad).all()
    assert loss_fn(ref, ref).item() == pytest.approx(0.0, abs=1e-6)
    per_item = MultiResolutionSTFTLoss(resolutions=[(256, 64)], reduction="none")(est, ref)
    assert per_item.shape == (2, 2)
    assert torch.isfinite(loss_fn(torch.zeros(1, 4000), torch.zeros(1, 4000)))


def test_multi_resolution_stft_loss_gradient_is_finite_on_denormal_samples() -> None:
    """A model's near-silent output can hold denormal samples (about 1e-43); |X|'s usual gradient X / |X| is NaN
    there even under a clamp, which turned a whole training run's weights NaN (stage 10 of the enhance recipe)."""
    est = torch.zeros(1, 16000)
    est[0, 8000:] = torch.randn(8000, generator=torch.Generator().manual_seed(0)) * 1e-43
    est.requires_grad_()
    ref = 0.1 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(1))
    MultiResolutionSTFTLoss()(est, ref).backward()
    assert torch.isfinite(est.grad).all()

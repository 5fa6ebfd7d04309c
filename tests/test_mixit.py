"""MixIT: the Gram-matrix search equals a brute-force remix of every assignment, values and gradients."""

from __future__ import annotations

import itertools

import pytest
import torch

from sepkit.losses import mixit_assignment, mixit_loss, mixture_consistency
from sepkit.losses.criteria import EPS


def _brute_force(
    est: torch.Tensor, mix: torch.Tensor, snr_max: float = 30.0, allowed: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (B,) and best remix (B, N, T) by remixing the waveforms of every assignment."""
    n_est, n_mix = est.shape[1], mix.shape[1]
    tau = 10.0 ** (-snr_max / 10.0)
    losses, remixes = [], []
    for assign in itertools.product(range(n_mix), repeat=n_est):
        if allowed is not None and not all(bool(allowed[m, n]) for m, n in enumerate(assign)):
            continue
        parts = [
            sum((est[:, m] for m in range(n_est) if assign[m] == n), torch.zeros_like(mix[:, 0])) for n in range(n_mix)
        ]
        remixed = torch.stack(parts, 1)
        error = ((mix - remixed) ** 2).sum(-1)
        losses.append((10 * torch.log10(error + tau * (mix**2).sum(-1) + EPS)).mean(-1))
        remixes.append(remixed)
    table = torch.stack(losses, 1)  # (B, P)
    best = table.argmin(1)
    batch = torch.arange(est.shape[0])
    return table[batch, best], torch.stack(remixes, 1)[batch, best]


def _inputs(batch: int, n_est: int, n_mix: int, samples: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates and mixtures that are noisy sums of random subsets of them (a meaningful optimum)."""
    g = torch.Generator().manual_seed(seed)
    est = torch.randn(batch, n_est, samples, generator=g, dtype=torch.float64)
    owner = torch.randint(0, n_mix, (batch, n_est), generator=g)
    mix = torch.nn.functional.one_hot(owner, n_mix).double().transpose(1, 2) @ est
    mix = mix + 0.3 * torch.randn(batch, n_mix, samples, generator=g, dtype=torch.float64)
    return est, mix


@pytest.mark.parametrize("n_mix", [2, 3])
@pytest.mark.parametrize("n_est", [2, 4, 8])
def test_equals_brute_force_with_gradients(n_est: int, n_mix: int) -> None:
    est, mix = _inputs(3, n_est, n_mix, seed=10 * n_est + n_mix)
    est = torch.cat([est, torch.randn_like(est)])  # and estimates unrelated to the mixtures
    mix = torch.cat([mix, torch.randn_like(mix)])
    ours_in, ref_in = est.clone().requires_grad_(True), est.clone().requires_grad_(True)
    loss, best = mixit_loss(ours_in, mix)
    ref_loss, ref_best = _brute_force(ref_in, mix)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(best, ref_best, rtol=1e-12, atol=1e-12)
    weights = torch.linspace(0.5, 1.5, est.shape[0], dtype=torch.float64)
    (loss * weights).sum().backward()
    (ref_loss * weights).sum().backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-9, atol=1e-12)


def test_snr_max_and_constraints_match_brute_force() -> None:
    est, mix = _inputs(4, 4, 2, seed=3)
    allowed = torch.tensor([[True, False], [True, True], [True, True], [False, True]])
    for snr_max, mask in ((10.0, None), (30.0, allowed), (60.0, allowed)):
        loss, best = mixit_loss(est, mix, snr_max=snr_max, allowed=mask)
        ref_loss, ref_best = _brute_force(est, mix, snr_max, mask)
        torch.testing.assert_close(loss, ref_loss)
        torch.testing.assert_close(best, ref_best)
    assignment = mixit_assignment(est, mix, allowed=allowed)
    assert (assignment[:, 0] == 0).all() and (assignment[:, 3] == 1).all()


def test_recovers_the_true_assignment() -> None:
    est, _ = _inputs(5, 8, 2, seed=4)
    owner = torch.randint(0, 2, (5, 8), generator=torch.Generator().manual_seed(1))
    mix = torch.nn.functional.one_hot(owner, 2).double().transpose(1, 2) @ est
    assert torch.equal(mixit_assignment(est, mix), owner)
    loss, best = mixit_loss(est, mix)
    torch.testing.assert_close(best, mix)
    energy = 10 * torch.log10((mix**2).sum(-1) * 1e-3).mean(-1)  # a perfect remix: 10 log10(τ‖x‖²)
    torch.testing.assert_close(loss, energy)


def test_float32_follows_float64() -> None:
    est, mix = _inputs(2, 4, 2, samples=4000, seed=5)
    loss64, _ = mixit_loss(est, mix)
    loss32, best32 = mixit_loss(est.float(), mix.float())
    assert loss32.dtype == torch.float32 and best32.dtype == torch.float32
    torch.testing.assert_close(loss32.double(), loss64, rtol=1e-5, atol=1e-4)


def test_all_zero_mixtures_give_finite_loss_and_gradient() -> None:
    est, mix = _inputs(3, 4, 2, seed=6)
    mix[0, 1] = 0.0  # one silent mixture
    mix[1] = 0.0  # both silent
    est[2] = 0.0  # silent estimates too
    est.requires_grad_(True)
    loss, best = mixit_loss(est, mix)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(best).all()
    assert torch.isfinite(est.grad).all()
    ref_loss, _ = _brute_force(est.detach(), mix)
    torch.testing.assert_close(loss.detach(), ref_loss)


def test_bad_shapes_and_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 mixtures"):
        mixit_loss(torch.randn(1, 4, 10), torch.randn(1, 1, 10))
    with pytest.raises(ValueError, match="differ"):
        mixit_loss(torch.randn(1, 4, 10), torch.randn(1, 2, 11))
    with pytest.raises(ValueError, match="too many"):
        mixit_loss(torch.randn(1, 21, 10), torch.randn(1, 2, 10))
    with pytest.raises(ValueError, match="no assignment"):
        mixit_loss(torch.randn(1, 2, 10), torch.randn(1, 2, 10), allowed=torch.zeros(2, 2, dtype=torch.bool))


@pytest.mark.parametrize("weights", ["uniform", "magsq"])
def test_mixture_consistency_sums_to_the_mixture(weights: str) -> None:
    est = torch.randn(3, 4, 100, dtype=torch.float64)
    est[1] = 0.0  # magsq falls back to uniform weights here
    mixture = torch.randn(3, 100, dtype=torch.float64)
    projected = mixture_consistency(est, mixture, weights)  # type: ignore[arg-type]
    torch.testing.assert_close(projected.sum(1), mixture)
    with_channel = mixture_consistency(est, mixture[:, None], weights)  # type: ignore[arg-type]
    torch.testing.assert_close(with_channel.sum(1), mixture)
    if weights == "magsq":  # silent outputs stay silent where others are not
        est[0, 2] = 0.0
        assert mixture_consistency(est, mixture, "magsq")[0, 2].abs().max() == 0
    with pytest.raises(ValueError, match="unknown mixture consistency"):
        mixture_consistency(est, mixture, "softmax")  # type: ignore[arg-type]


def test_same_optimum_as_asteroid_mixit_wrapper() -> None:
    asteroid = pytest.importorskip("asteroid.losses")
    tau = 1e-3

    def thresholded(est: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        error = ((mix - est) ** 2).sum(-1)
        return (10 * torch.log10(error + tau * (mix**2).sum(-1) + EPS)).mean(-1)

    wrapper = asteroid.MixITLossWrapper(thresholded, generalized=True, reduction="none")
    est, mix = _inputs(4, 4, 2, seed=7)
    theirs, their_best = wrapper(est, mix, return_est=True)
    ours, best = mixit_loss(est, mix)
    torch.testing.assert_close(ours, theirs.squeeze(-1))
    torch.testing.assert_close(best, their_best)

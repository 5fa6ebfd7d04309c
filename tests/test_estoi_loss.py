"""The negative-ESTOI training term: agrees with pystoi, ranks a flattened envelope below the clean one, stays out
of checkpoints, skips clips too short to score, and enters the supervised objective only when weighted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pystoi import stoi

from sepkit.errors import ConfigError
from sepkit.losses import NegEstoiLoss


def _speechlike(seconds: float, rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """Noise bursts at a syllable rate: an envelope that ESTOI can see modulated, in 2 examples."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    envelope = (torch.sin(2 * torch.pi * 4.0 * t).clamp_min(0) ** 2).expand(2, -1)
    return 0.1 * envelope * torch.randn(2, t.numel(), generator=g)


def test_it_is_minus_pystoi_extended() -> None:
    ref = _speechlike(2.0)
    est = ref + 0.05 * torch.randn(2, ref.shape[-1], generator=torch.Generator().manual_seed(1))
    ours = -NegEstoiLoss(16000)(est, ref)
    theirs = [stoi(r.numpy(), e.numpy(), 16000, extended=True) for r, e in zip(ref, est, strict=True)]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=0.02)


def test_a_flattened_envelope_scores_worse_and_the_gradient_is_finite() -> None:
    ref = _speechlike(2.0)
    flat = 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(2))
    loss = NegEstoiLoss(16000)
    est = (ref + flat).requires_grad_(True)
    value = loss(est, ref)
    value.sum().backward()
    assert (loss(ref, ref) < value).all()  # the clean signal is the best estimate
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0


def test_constant_buffers_stay_out_of_the_state_dict_and_short_clips_score_zero() -> None:
    loss = NegEstoiLoss(16000)
    assert loss.state_dict() == {}  # band matrix, window and resampling kernel are rebuilt, never saved
    assert len(list(loss.buffers())) > 0 and not list(loss.parameters())  # nothing for an optimiser either
    short = _speechlike(0.3)
    assert torch.equal(loss(short, short), torch.zeros(2))
    with pytest.raises(ValueError, match="shape mismatch"):
        loss(short, short[:1])


def test_the_supervised_objective_adds_the_term_only_when_weighted() -> None:
    from sepkit.train.supervised import SupervisedModule

    config = {
        "task": "enhance",
        "paradigm": "supervised",
        "sample_rate": 16000,
        "model": {"arch": "filter_enhancer", "args": {"hidden": 16, "layers": 1}},
        "output_dir": "unused",
    }
    plain = SupervisedModule(config)
    weighted = SupervisedModule({**config, "loss": {"estoi": 2.0}})
    assert plain.estoi is None and weighted.estoi is not None
    assert set(plain.state_dict()) == set(weighted.state_dict())  # checkpoints interchange
    ref = _speechlike(1.0)[:, None]
    est = ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(3))
    base, _ = plain.objective(est, ref)
    total, _ = weighted.objective(est, ref)
    expected = base + 2.0 * NegEstoiLoss(16000)(est[:, 0], ref[:, 0])
    torch.testing.assert_close(total, expected.to(total.dtype))
    with pytest.raises(ConfigError, match="loss.estoi"):
        SupervisedModule({**config, "loss": {"estoi": -1.0}})

"""Segmental losses, purification weights and the contrastive-mixtures loss; DP inside the personalize paradigm."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sepkit.losses import neg_si_sdr, neg_snr
from sepkit.losses.contrastive import ContrastiveOptions, contrast_penalty, contrastive_mixtures_loss
from sepkit.losses.segmental import (
    DISTANCES,
    frames,
    match_frames,
    purification_weights,
    purified_target,
    sample_weights,
    segmental_snr,
    weighted_distance,
    weighted_snr,
)
from sepkit.errors import ConfigError
from sepkit.models.snr_estimator import SnrEstimator
from sepkit.pretrained import ModelConfig, export_model
from sepkit.train.personalize import PersonalizeModule


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


def test_distances_are_losses_lower_is_better() -> None:
    ref = torch.randn(2, 800, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(2, 800, generator=torch.Generator().manual_seed(1))
    close, far = ref + 0.1 * noise, ref + noise
    torch.testing.assert_close(DISTANCES["mse"](far, ref), noise.square().mean(-1))  # the plain mean squared error
    for name, distance in DISTANCES.items():
        assert bool((distance(close, ref) < distance(far, ref)).all()), name


def test_frames_match_the_stft_grid() -> None:
    x = torch.randn(2, 1000)
    cut = frames(x, 64, 16)
    assert cut.shape == (2, 1 + 1000 // 16, 64)
    spec = torch.stft(x, 64, 16, window=torch.hann_window(64), center=True, pad_mode="constant", return_complex=True)
    torch.testing.assert_close(torch.fft.rfft(cut, dim=-1), spec.transpose(1, 2), rtol=1e-4, atol=1e-4)


def test_segmental_snr_is_the_frame_energy_ratio_clamped() -> None:
    speech = torch.ones(1, 4000)
    noise = torch.cat([torch.full((2000,), 0.1), torch.full((2000,), 1.0)])[None]
    snr = segmental_snr(speech, noise, 256, 64, floor_db=-30, ceil_db=40)
    assert snr.shape == (1, 1 + 4000 // 64)
    assert snr[0, 5].item() == pytest.approx(20.0, abs=1e-3) and snr[0, -5].item() == pytest.approx(0.0, abs=1e-3)
    assert segmental_snr(torch.zeros(1, 4000), noise, 256, 64, floor_db=-30).max().item() == -30.0


def test_purification_weights_follow_the_estimated_snr() -> None:
    snr = torch.tensor([[-20.0, -5.0, 0.0, 5.0, 20.0]])
    w = purification_weights(snr)
    torch.testing.assert_close(w, torch.sigmoid(snr))  # the papers' w_t = sigmoid(SNR^_t)
    assert w[0, 2].item() == pytest.approx(0.5) and bool((w.diff(dim=-1) > 0).all())
    assert purification_weights(snr, slope=0.5, offset_db=5.0)[0, 3].item() == pytest.approx(0.5)


def test_a_noisy_segment_gets_a_lower_weight_and_teaches_less() -> None:
    """A premixture whose second half is noisy: low SNR there, low weights there, its errors count less."""
    g = torch.Generator().manual_seed(0)
    speech = torch.randn(1, 8000, generator=g)
    noise = torch.cat([0.01 * torch.randn(4000, generator=g), 3.0 * torch.randn(4000, generator=g)])[None]
    w = purification_weights(segmental_snr(speech, noise, 256, 64))
    half = w.shape[-1] // 2
    assert w[0, : half - 4].min() > 0.99 and w[0, half + 4 :].max() < 0.01
    ref = speech + noise
    err = 0.3 * torch.randn(1, 4000, generator=g)
    wrong_in_clean = ref + torch.cat([err, torch.zeros(1, 4000)], 1)
    wrong_in_noisy = ref + torch.cat([torch.zeros(1, 4000), err], 1)
    loss = {
        name: weighted_distance(est, ref, neg_snr, w, 256, 64).item()
        for name, est in (("clean", wrong_in_clean), ("noisy", wrong_in_noisy))
    }
    assert loss["noisy"] < loss["clean"] - 5  # the same error, in the noisy half, costs far less
    unweighted = [weighted_distance(est, ref, neg_snr).item() for est in (wrong_in_clean, wrong_in_noisy)]
    assert unweighted[0] == pytest.approx(unweighted[1], abs=0.5)  # without weights the two are alike
    ones = weighted_distance(wrong_in_clean, ref, neg_snr, torch.ones_like(w), 256, 64)
    per_frame = neg_snr(frames(wrong_in_clean, 256, 64), frames(ref, 256, 64)).mean(-1)
    torch.testing.assert_close(ones, per_frame)  # weights of one: the plain mean of per-frame distances
    torch.testing.assert_close(match_frames(w, w.shape[-1] + 2)[:, [0, -1]], w[:, [0, -1]])


def test_contrastive_loss_terms() -> None:
    g = torch.Generator().manual_seed(0)
    p1, p2 = torch.randn(4, 800, generator=g), torch.randn(4, 800, generator=g)
    y1 = (p1 + 0.1 * torch.randn(4, 800, generator=g)).requires_grad_()
    y2 = (p2 + 0.1 * torch.randn(4, 800, generator=g)).requires_grad_()
    positive = torch.tensor([True, True, False, False])
    opts = ContrastiveOptions(distance=neg_snr, lambda_pos=0.5, lambda_neg=2e-4, phi="sq")
    t = contrastive_mixtures_loss(y1, y2, p1, p2, positive, opts)
    torch.testing.assert_close(t["signal"], 0.5 * (neg_snr(y1, p1) + neg_snr(y2, p2)))
    torch.testing.assert_close(t["positive"], neg_snr(y1, y2) * positive)
    torch.testing.assert_close(t["negative"], (neg_snr(p1, p2) - neg_snr(y1, y2)) ** 2 * ~positive)
    torch.testing.assert_close(t["loss"], t["signal"] + 0.5 * t["positive"] + 2e-4 * t["negative"])
    t["loss"].sum().backward()
    assert y1.grad is not None and torch.isfinite(y1.grad).all()
    a, b = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])
    assert contrast_penalty(a, b, "abs").tolist() == [1.0, 1.0] and contrast_penalty(a, b, "max").tolist() == [0.0, 1.0]
    # with weights: signal terms by each example's weights, positive by w1, negative by w1 * w2
    w1, w2 = torch.rand(4, 13, generator=g), torch.rand(4, 13, generator=g)
    opts = ContrastiveOptions(distance=neg_snr, window=256, hop=64)
    t = contrastive_mixtures_loss(y1, y2, p1, p2, positive, opts, w1, w2)
    torch.testing.assert_close(
        t["signal"],
        0.5 * (weighted_distance(y1, p1, neg_snr, w1, 256, 64) + weighted_distance(y2, p2, neg_snr, w2, 256, 64)),
    )
    torch.testing.assert_close(t["positive"][:2], weighted_distance(y1, y2, neg_snr, w1, 256, 64)[:2])
    apart = weighted_distance(p1, p2, neg_snr, w1 * w2, 256, 64) - weighted_distance(y1, y2, neg_snr, w1 * w2, 256, 64)
    torch.testing.assert_close(t["negative"][2:], apart[2:] ** 2)


class _Oracle(torch.nn.Module):
    """Stands in for the estimator: says the second half of every input is at -20 dB, the first at +20 dB."""

    def __init__(self, estimator: SnrEstimator) -> None:
        super().__init__()
        self.inner, self.sample_rate = estimator, estimator.sample_rate

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        n = 1 + wav.shape[-1] // self.inner.hop
        return torch.where(torch.arange(n) < n // 2, 20.0, -20.0).expand(wav.shape[0], n)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_personalize_module_weights_frames_with_the_estimator(tmp_path: Path) -> None:
    est_args = {"n_fft": 512, "hop": 128, "hidden": 8, "layers": 1}
    export_model(
        SnrEstimator(sample_rate=16000, **est_args),
        tmp_path / "snr",
        ModelConfig("snr_estimator", {**est_args, "sample_rate": 16000}, 16000, "snr", 1),
    )
    config = {
        "task": "enhance",
        "paradigm": "personalize",
        "sample_rate": 8000,
        "output_dir": str(tmp_path / "run"),
        "model": {"arch": "fast_enhancer", "args": {"n_fft": 128, "hop": 32, "hidden": 8, "layers": 1}},
        "personalize": {"method": "cm", "purify": {"model": str(tmp_path / "snr")}},
        "data": {"batch_size": 4},
        "validation": {"metrics": []},
    }
    module = PersonalizeModule(config)
    assert (module.window, module.hop) == (256, 64)  # the estimator's 32 ms / 8 ms frames at 8 kHz
    module._estimator[0] = _Oracle(module._estimator[0])
    w = module.frame_weights(torch.randn(2, 8000))
    assert w is not None and w.shape == (2, 1 + 8000 // 64)
    assert w[:, :50].min() > 0.99 and w[:, -50:].max() < 0.01  # sigmoid(+-20 dB), resampled to the loss grid
    batch = {
        "sources": 0.1 * torch.randn(4, 1, 8000),
        "noise": 0.1 * torch.randn(4, 8000),
        "noise_alt": 0.1 * torch.randn(4, 8000),
    }
    batch["mixture"] = batch["sources"][:, 0] + batch["noise"]
    loss = module.contrastive_step(batch, batch["sources"][:, 0], w.repeat(2, 1))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in module.net.parameters())
    assert not any(p.requires_grad for p in module._estimator[0].parameters())
    assert not any(k.startswith("_estimator") for k in module.state_dict())  # not trained, not checkpointed


def test_oracle_purification_weights_frames_by_their_true_snr() -> None:
    config = {
        "task": "enhance",
        "paradigm": "personalize",
        "sample_rate": 16000,
        "output_dir": "unused",
        "model": {"arch": "fast_enhancer", "args": {"n_fft": 128, "hop": 32, "hidden": 8, "layers": 1}},
        "personalize": {"method": "pseudose", "purify": {"model": "oracle"}},
        "data": {"batch_size": 2},
        "validation": {"metrics": []},
    }
    module = PersonalizeModule(config)
    assert (module.window, module.hop) == (1024, 256) and not module._estimator
    speech = torch.zeros(2, 16000)
    speech[:, :8000] = 0.1 * torch.randn(2, 8000)  # speech in the first half only
    premixture = speech + 0.01 * torch.randn(2, 16000)  # about +20 dB there, -inf dB after
    w = module.frame_weights(premixture, speech)
    assert w is not None and w.shape == (2, 1 + 16000 // 256)
    assert w[:, :25].min() > 0.99 and w[:, 35:].max() < 0.01
    with pytest.raises(ConfigError, match="with_clean"):
        module.frame_weights(premixture)


def test_energy_weighted_snr_is_the_plain_snr_with_equal_weights_and_ignores_zero_weight_frames() -> None:
    torch.manual_seed(0)
    ref = torch.randn(3, 16000)
    est = ref + 0.3 * torch.randn(3, 16000)
    ones = torch.ones(3, 1 + 16000 // 256)
    assert torch.allclose(weighted_snr(est, ref, ones), neg_snr(est, ref), atol=0.05)
    assert torch.allclose(
        weighted_distance(est, ref, neg_snr, 0.5 * ones, reduce="energy"), neg_snr(est, ref), atol=0.05
    )  # the weights' scale does not matter, only their shape
    spoilt = est.clone()
    spoilt[:, 8000:] = 0.0  # a bad second half...
    w = ones.clone()
    w[:, 8000 // 256 - 4 :] = 0.0  # ...that the weights say not to trust
    first = neg_snr(est[:, :7000], ref[:, :7000])
    assert torch.allclose(weighted_snr(spoilt, ref, w), first, atol=0.3)
    assert (weighted_snr(spoilt, ref, ones) > first + 3).all()
    with pytest.raises(ValueError, match="snr distance"):
        weighted_distance(est, ref, neg_si_sdr, ones, reduce="energy")


def test_a_purified_target_is_the_recording_where_trusted_and_the_speech_estimate_where_not() -> None:
    torch.manual_seed(0)
    premixture, speech = torch.randn(2, 16000), 0.1 * torch.randn(2, 16000)
    frames_n = 1 + 16000 // 256
    w = torch.ones(2, frames_n)
    w[:, frames_n // 2 :] = 0.0  # the second half is judged noisy
    curve = sample_weights(w, 16000, 256)
    assert curve.shape == (2, 16000) and curve[:, :7680].min() == 1 and curve[:, 7936:].max() == 0
    target = purified_target(premixture, speech, w, 256)
    torch.testing.assert_close(target[:, :7680], premixture[:, :7680])  # trusted: the user's recording itself
    torch.testing.assert_close(target[:, 7936:], speech[:, 7936:])  # noisy: the speech estimate of it
    half = purified_target(premixture, speech, torch.full((2, frames_n), 0.5), 256)
    torch.testing.assert_close(half, 0.5 * (premixture + speech))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_target_purification_trains_towards_the_enhancer_estimate_and_needs_an_enhancer_snr_estimator(
    tmp_path: Path,
) -> None:
    from sepkit.models import build_model

    enhancer = {"n_fft": 128, "hop": 32, "hidden": 8, "layers": 1}
    est_args = {"n_fft": 256, "hop": 64, "bands": 8, "hidden": 8, "layers": 1, "enhancer": enhancer}
    export_model(
        build_model("enhancer_snr", sample_rate=8000, **est_args),
        tmp_path / "esnr",
        ModelConfig("enhancer_snr", {**est_args, "sample_rate": 8000}, 8000, "snr", 1),
    )
    plain = {"n_fft": 256, "hop": 64, "hidden": 8, "layers": 1}
    export_model(
        SnrEstimator(sample_rate=8000, **plain),
        tmp_path / "snr",
        ModelConfig("snr_estimator", {**plain, "sample_rate": 8000}, 8000, "snr", 1),
    )

    def config(model: Path, method: str = "pseudose") -> dict:
        return {
            "task": "enhance",
            "paradigm": "personalize",
            "sample_rate": 8000,
            "output_dir": str(tmp_path / "run"),
            "model": {"arch": "fast_enhancer", "args": enhancer},
            "personalize": {"method": method, "purify": {"model": str(model), "reduce": "target"}},
            "data": {"batch_size": 4},
            "validation": {"metrics": []},
        }

    with pytest.raises(ConfigError, match="enhancer_snr"):
        PersonalizeModule(config(tmp_path / "snr"))
    module = PersonalizeModule(config(tmp_path / "esnr"))
    premixture = 0.1 * torch.randn(4, 8000)
    weights, speech = module.purification(premixture)
    assert weights is not None and speech is not None and speech.shape == premixture.shape
    torch.testing.assert_close(speech, module._estimator[0].speech(premixture))
    batch = {"sources": premixture[:, None], "mixture": premixture + 0.1 * torch.randn(4, 8000)}
    loss = module.training_step(batch, 0)
    target = purified_target(premixture, speech, weights, module.hop)
    torch.testing.assert_close(loss, neg_snr(module(batch["mixture"])[:, 0], target).mean())
    cm = PersonalizeModule(config(tmp_path / "esnr", "cm"))
    batch.update(noise=0.1 * torch.randn(4, 8000), noise_alt=0.1 * torch.randn(4, 8000))
    assert torch.isfinite(cm.training_step(batch, 0))

"""A run whose loss or weights turn NaN stops at once with a one-line error, and no checkpoint stores the spoilt
weights; a checkpoint that holds them anyway (written before this check) is refused by export and warm starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from sepkit.errors import ConfigError, TrainingError
from sepkit.models import register_model
from sepkit.train.callbacks import StopOnNonFinite
from sepkit.train.checkpoint_file import load_checkpoint
from sepkit.train.export import export_checkpoint
from sepkit.train.run import train
from sepkit_fixtures import short_pit_run

NAN_FROM_CALL = 6  # training forward passes before the output turns NaN


@register_model("test_goes_nan")
class GoesNan(nn.Module):
    """A small conv net whose training outputs turn NaN from its sixth training forward pass on."""

    def __init__(self, n_src: int = 2, sample_rate: int = 8000) -> None:
        super().__init__()
        self.sample_rate, self.n_src = sample_rate, n_src
        self.conv = nn.Conv1d(1, n_src, 9, padding=4)
        self.calls = 0

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        out = wav[:, None] / self.n_src + self.conv(wav[:, None])
        if self.training:
            self.calls += 1
            if self.calls >= NAN_FROM_CALL:
                out = out * float("nan")
        return out


class _InfiniteGradient(torch.autograd.Function):
    """The identity forward; an infinite gradient backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad * float("inf")


@register_model("test_infinite_gradient")
class InfiniteGradient(GoesNan):
    """The same net with finite outputs and losses throughout, whose gradient turns infinite from its sixth
    training forward pass on: clipping an infinite gradient norm makes the gradient NaN, and the step the weights."""

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        out = wav[:, None] / self.n_src + self.conv(wav[:, None])
        if self.training:
            self.calls += 1
            if self.calls >= NAN_FROM_CALL:
                out = _InfiniteGradient.apply(out)
        return out


def _all_checkpoints_finite(out: Path) -> None:
    saved = sorted((out / "checkpoints").glob("*.ckpt"))
    assert saved, "the checkpoint before the NaN should be there"
    for path in saved:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state["global_step"] < NAN_FROM_CALL
        assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point()), path


def test_a_nan_loss_stops_the_run_before_a_checkpoint_stores_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"training loss is nan at step \d+"):
        train(short_pit_run(out, "test_goes_nan", "{n_src: 2}"))
    _all_checkpoints_finite(out)


def test_an_infinite_gradient_under_a_finite_loss_stops_the_run_at_the_weights_it_spoilt(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(
        TrainingError, match=r"weight net\.conv\.\w+ is NaN or infinite after step \d+ with a finite loss"
    ):
        train(short_pit_run(out, "test_infinite_gradient", "{n_src: 2}"))
    _all_checkpoints_finite(out)


def test_a_checkpoint_with_nan_weights_is_refused_by_export_and_warm_starts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(short_pit_run(out, "test_goes_nan", "{n_src: 2}", steps=4))
    good = out / "checkpoints" / "last.ckpt"
    state = torch.load(good, map_location="cpu", weights_only=True)
    state["state_dict"]["net.conv.bias"][0] = float("nan")
    spoilt = tmp_path / "spoilt.ckpt"
    torch.save(state, spoilt)
    load_checkpoint(good)  # the finite one loads
    with pytest.raises(ConfigError, match=r"spoilt\.ckpt: weight net\.conv\.bias is NaN or infinite"):
        load_checkpoint(spoilt)
    with pytest.raises(ConfigError, match="NaN or infinite"):
        export_checkpoint(spoilt, tmp_path / "export")
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("outputs", [torch.tensor(float("inf")), {"loss": torch.tensor(float("nan"))}])
def test_the_callback_raises_on_any_non_finite_loss(outputs: object) -> None:
    trainer = type("T", (), {"global_step": 7})()
    with pytest.raises(TrainingError, match="at step 7"):
        StopOnNonFinite().on_train_batch_end(trainer, nn.Linear(2, 2), outputs, None, 0)


@pytest.mark.parametrize("outputs", [torch.tensor(-3.5), {"loss": torch.tensor(0.0)}, None])
def test_the_callback_lets_finite_losses_and_manual_steps_pass(outputs: object) -> None:
    trainer = type("T", (), {"global_step": 7})()
    StopOnNonFinite().on_train_batch_end(trainer, nn.Linear(2, 2), outputs, None, 0)


def test_the_callback_raises_on_a_spoilt_weight_under_a_finite_loss() -> None:
    trainer = type("T", (), {"global_step": 7})()
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with torch.no_grad():
        net[1].weight[0, 1] = float("inf")
    with pytest.raises(TrainingError, match=r"weight 1\.weight is NaN or infinite after step 7"):
        StopOnNonFinite().on_train_batch_end(trainer, net, torch.tensor(0.5), None, 0)

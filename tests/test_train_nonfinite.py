"""A run whose loss turns NaN stops at once with a one-line error, and no checkpoint stores the spoilt weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from sepkit.errors import TrainingError
from sepkit.models import register_model
from sepkit.train.callbacks import StopOnNonFiniteLoss
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


def test_a_nan_loss_stops_the_run_before_a_checkpoint_stores_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"training loss is nan at step \d+"):
        train(short_pit_run(out, "test_goes_nan", "{n_src: 2}"))
    saved = sorted((out / "checkpoints").glob("*.ckpt"))
    assert saved, "the checkpoint before the NaN should be there"
    for path in saved:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state["global_step"] < NAN_FROM_CALL
        assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point()), path


@pytest.mark.parametrize("outputs", [torch.tensor(float("inf")), {"loss": torch.tensor(float("nan"))}])
def test_the_callback_raises_on_any_non_finite_loss(outputs: object) -> None:
    trainer = type("T", (), {"global_step": 7})()
    with pytest.raises(TrainingError, match="at step 7"):
        StopOnNonFiniteLoss().on_train_batch_end(trainer, None, outputs, None, 0)


@pytest.mark.parametrize("outputs", [torch.tensor(-3.5), {"loss": torch.tensor(0.0)}, None])
def test_the_callback_lets_finite_losses_and_manual_steps_pass(outputs: object) -> None:
    trainer = type("T", (), {"global_step": 7})()
    StopOnNonFiniteLoss().on_train_batch_end(trainer, None, outputs, None, 0)

"""The minimum-statistics noise floor: a causal sliding minimum, the same streamed as whole, and a floor that
stays at the noise while speech rises above it."""

from __future__ import annotations

import torch

from sepkit.models import build_model
from sepkit.models.noise_floor import FloorState, above_floor, causal_running_min


def test_running_min_is_the_minimum_of_the_last_window_frames() -> None:
    x = torch.randn(2, 3, 40, generator=torch.Generator().manual_seed(0))
    got, tail = causal_running_min(x, 6)
    for t in range(40):
        assert torch.equal(got[..., t], x[..., max(0, t - 5) : t + 1].amin(-1))
    assert torch.equal(tail, x[..., -5:])


def test_floor_features_streamed_in_pieces_equal_the_whole() -> None:
    g = torch.Generator().manual_seed(1)
    log_power, log_smoothed = torch.randn(1, 5, 50, generator=g), torch.randn(1, 5, 50, generator=g)
    whole = above_floor(log_power, log_smoothed, 9)
    state = FloorState()
    parts = [above_floor(log_power[..., i : i + 4], log_smoothed[..., i : i + 4], 9, state) for i in range(0, 50, 4)]
    assert torch.equal(torch.cat(parts, -1), whole)


def test_the_floor_stays_at_the_noise_while_a_louder_sound_plays_over_it() -> None:
    torch.manual_seed(0)
    model = build_model("filter_enhancer", hidden=8, layers=1, noise_floor=1.5)
    noise = 0.01 * torch.randn(1, 16000 * 4)
    tone = torch.zeros_like(noise)
    t = torch.arange(16000) / 16000
    tone[0, 32000:48000] = 0.3 * torch.sin(2 * torch.pi * 1000 * t)  # one second of a 1 kHz tone at second 2
    with torch.no_grad():
        spec = model.spectrum(noise + tone)
        feats, floor = model.inputs(spec)
        above = floor[0].T / 0.1  # (F, frames), natural-log units above the floor
        level_free = feats[0].T / model.feat_scale[:, None]  # log power minus its 1 s running mean
    tone_bin, late = 20, slice(280, 290)  # 1 kHz at 50 Hz per bin; the tone's last 100 ms
    assert float(above[tone_bin, 220:290].mean()) > 9.0  # the tone stands ~50 dB above the floor in its bin...
    assert float(above[60, 220:290].abs().mean()) < 2.0  # ...while a bin it does not reach sits near its floor
    # the running mean has followed the tone up by its end and gives it half of its height; the floor has not moved
    assert float(level_free[tone_bin, late].mean()) < 0.5 * float(above[tone_bin, late].mean())

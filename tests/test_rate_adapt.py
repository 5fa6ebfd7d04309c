"""Starting a run from a base model at another sample rate: fast_enhancer rebuilt at the recordings' rate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sepkit.audio.resample import resample
from sepkit.errors import ConfigError
from sepkit.metrics.sisdr import si_sdr_torch
from sepkit.models.fast_enhancer import FastEnhancer
from sepkit.pretrained import ModelConfig, export_model
from sepkit.train.warm_start import args_at, rate_adaptable, run_rate, warm_start
from sepkit_fixtures import ConvTestModel, speechlike


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


ARGS = {"n_fft": 512, "hop": 128, "hidden": 24, "layers": 1}


def _base() -> FastEnhancer:
    """A 16 kHz enhancer with weights far from the pass-through start, so its masks vary with the input."""
    torch.manual_seed(0)
    net = FastEnhancer(sample_rate=16000, **ARGS)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return net


def test_args_keep_window_and_hop_durations() -> None:
    assert FastEnhancer.args_at_rate({**ARGS, "sample_rate": 16000}, 8000) == {
        **ARGS,
        "sample_rate": 8000,
        "n_fft": 256,
        "hop": 64,
    }
    wide = FastEnhancer.args_at_rate({"sample_rate": 16000}, 44100)  # defaults filled in: 512/128 at 16 kHz
    assert (wide["n_fft"], wide["hop"]) == (1411, 353)
    assert rate_adaptable("fast_enhancer") and not rate_adaptable("test_conv")


def test_same_rate_is_an_exact_copy_and_8k_behaves_like_the_base_on_upsampled_audio() -> None:
    base = _base()
    same = FastEnhancer(**FastEnhancer.args_at_rate({**ARGS, "sample_rate": 16000}, 16000))
    same.load_from_rate(base)
    x16 = torch.from_numpy(speechlike(1.0, 16000, seed=2))
    with torch.no_grad():
        torch.testing.assert_close(same(x16), base(x16))
    narrow = FastEnhancer(**FastEnhancer.args_at_rate({**ARGS, "sample_rate": 16000}, 8000))
    narrow.load_from_rate(base)
    torch.testing.assert_close(narrow.gru.weight_hh_l0, base.gru.weight_hh_l0)
    torch.testing.assert_close(narrow.feat_bias, base.feat_bias[:129])  # 0..4 kHz: the same 31.25 Hz bins
    torch.testing.assert_close(narrow.encode.weight, base.encode.weight[:, :129])
    x8 = torch.from_numpy(speechlike(2.0, 8000, seed=1)[0]) + 0.02 * torch.randn(16000)
    with torch.no_grad():
        reference = resample(base(resample(x8, 8000, 16000)[None])[0, 0], 16000, 8000)  # the base behind resampling
        adapted = narrow(x8[None])[0, 0]
    agreement = float(si_sdr_torch(adapted, reference))
    assert agreement > float(si_sdr_torch(x8, reference)) + 2  # closer to what the base does than the input is
    with torch.no_grad():  # also runs at a higher rate (bins above 8 kHz: no input, the top bin's mask)
        wide = FastEnhancer(**FastEnhancer.args_at_rate({**ARGS, "sample_rate": 16000}, 24000))
        wide.load_from_rate(base)
        assert torch.isfinite(wide(torch.randn(1, 2400))).all()


def test_warm_start_from_an_exported_model(tmp_path: Path) -> None:
    base = _base()
    config = ModelConfig("fast_enhancer", {**ARGS, "sample_rate": 16000}, 16000, "enhance", 1, name="b")
    export_model(base, tmp_path / "b", config)
    assert run_rate(config, 8000) == 8000 and args_at(config, 8000)["n_fft"] == 256
    net = FastEnhancer(**args_at(config, 8000))
    assert warm_start(net, tmp_path / "b", "fast_enhancer").sample_rate == 16000
    torch.testing.assert_close(net.feat_scale, base.feat_scale[:129])
    with pytest.raises(ConfigError, match="model.args must equal"):
        warm_start(
            FastEnhancer(sample_rate=16000, n_fft=512, hop=128, hidden=24, layers=2), tmp_path / "b", "fast_enhancer"
        )
    with pytest.raises(ConfigError, match="is a fast_enhancer model"):
        warm_start(ConvTestModel(), tmp_path / "b", "test_conv")
    conv = ModelConfig("test_conv", {"sample_rate": 16000}, 16000, "enhance", 1)
    export_model(ConvTestModel(), tmp_path / "c", conv)
    assert run_rate(conv, 8000) == 16000  # cannot change rate: the run stays at the base's rate
    with pytest.raises(ConfigError, match="cannot change rate"):
        warm_start(ConvTestModel(sample_rate=8000), tmp_path / "c", "test_conv")

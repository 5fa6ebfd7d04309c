"""The enhancer-informed SNR estimator: raw estimate from a frozen enhancer, trained head, loading, training, use."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from sepkit.cli.main import main
from sepkit.errors import ConfigError, ModelError
from sepkit.losses.segmental import segmental_snr
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model, load_network
from sepkit.train.config import load_config
from sepkit.train.snr_estimator_module import SnrEstimatorModule
from sepkit.train.warm_start import InitSpec, apply_init

TINY = Path(__file__).resolve().parent.parent / "recipes" / "snr_estimator" / "tiny.yaml"
ENHANCER = {"n_fft": 128, "hop": 32, "hidden": 8, "layers": 1}  # a tiny fast_enhancer at 8 kHz
FILTER_ENHANCER = {"n_fft": 64, "hop": 32, "hidden": 8, "layers": 1, "order": 2}  # a tiny filter_enhancer at 8 kHz
ESTIMATOR = {"sample_rate": 8000, "n_fft": 256, "hop": 64, "bands": 8, "hidden": 8, "layers": 1}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


def _enhancer_dir(tmp_path: Path, seed: int = 0, arch: str = "fast_enhancer", **overrides: int) -> Path:
    torch.manual_seed(seed)
    args = {**(ENHANCER if arch == "fast_enhancer" else FILTER_ENHANCER), **overrides}
    net = build_model(arch, sample_rate=8000, **args)
    with torch.no_grad():
        net.decode.weight.normal_(0, 0.3)  # a mask that varies, unlike the pass-through init
    out = tmp_path / f"{arch}{seed}"
    return export_model(
        net,
        out,
        ModelConfig(
            arch=arch,
            args={**args, "sample_rate": 8000},
            sample_rate=8000,
            task="enhance",
            n_src=1,
            name=out.name,
        ),
    )


def _overrides(tmp_path: Path, enhancer_dir: Path | None) -> list[str]:
    args = ", ".join(f"{k}: {v}" for k, v in ESTIMATOR.items() if k != "sample_rate")
    enh = ", ".join(f"{k}: {v}" for k, v in ENHANCER.items())
    out = [f"output_dir={tmp_path / 'run'}", "model.arch=enhancer_snr", f"model.args={{{args}, enhancer: {{{enh}}}}}"]
    return out + ([f"snr_estimator.enhancer_from={enhancer_dir}"] if enhancer_dir else [])


@pytest.mark.parametrize("arch, enhancer", [("fast_enhancer", ENHANCER), ("filter_enhancer", FILTER_ENHANCER)])
def test_an_untrained_head_returns_the_enhancers_own_frame_snr(arch: str, enhancer: dict) -> None:
    torch.manual_seed(0)
    net = build_model("enhancer_snr", enhancer_arch=arch, enhancer=enhancer, **ESTIMATOR).eval()
    assert type(net.enhancer) is type(build_model(arch, sample_rate=8000, **enhancer))
    with torch.no_grad():
        net.enhancer.decode.weight.normal_(0, 0.3)
        wav = torch.randn(2, 4000) * 0.1
        speech = net.enhancer(wav)[:, 0]
        raw = segmental_snr(speech, wav - speech, 256, 64)
        out = net(wav)
    assert out.shape == (2, 1 + 4000 // 64)
    torch.testing.assert_close(out, raw)
    assert raw.std() > 0.1  # the comparison is not between two constants


def test_only_the_head_trains_and_the_enhancer_stays_in_inference_mode() -> None:
    net = build_model("enhancer_snr", enhancer=ENHANCER, **ESTIMATOR)
    net.train()
    assert not net.enhancer.training
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and all(not n.startswith("enhancer.") for n in trainable)
    loss = net(torch.randn(2, 4000) * 0.1).square().mean()
    loss.backward()
    assert net.out.weight.grad is not None and all(p.grad is None for p in net.enhancer.parameters())


def test_training_copies_the_named_enhancer_and_refuses_a_missing_or_mismatched_one(tmp_path: Path) -> None:
    source = _enhancer_dir(tmp_path)
    module = SnrEstimatorModule(load_config(TINY, _overrides(tmp_path, source)))
    spec = module.init_spec()  # enhancer_from is the one warm start, into the frozen enhancer, all of it
    assert spec == InitSpec(str(source), into="enhancer", strict=True, key="snr_estimator.enhancer_from")
    report = apply_init(module.net, spec, "enhancer_snr")
    base, _ = load_network(source)
    for name, tensor in base.state_dict().items():
        torch.testing.assert_close(module.net.enhancer.state_dict()[name], tensor)
    assert sorted(report.copied) == sorted(f"enhancer.{n}" for n in base.state_dict())
    with pytest.raises(ConfigError, match="enhancer_from"):
        SnrEstimatorModule(load_config(TINY, _overrides(tmp_path, None)))
    other = _enhancer_dir(tmp_path, seed=1, hidden=16)
    mismatched = SnrEstimatorModule(load_config(TINY, _overrides(tmp_path, other)))
    with pytest.raises(ConfigError, match="snr_estimator.enhancer_from .*must equal"):
        apply_init(mismatched.net, mismatched.init_spec(), "enhancer_snr")
    with pytest.raises(ConfigError, match="applies to arch enhancer_snr"):
        plain = [f"output_dir={tmp_path / 'plain'}", f"snr_estimator.enhancer_from={source}"]
        SnrEstimatorModule(load_config(TINY, plain))
    with pytest.raises(ConfigError, match="keep init.from only"):
        SnrEstimatorModule(load_config(TINY, [*_overrides(tmp_path, source), f"init.from={source}"]))


def test_the_enhancer_may_be_any_one_output_enhancer_the_source_must_have_its_arch(tmp_path: Path) -> None:
    source = _enhancer_dir(tmp_path, arch="filter_enhancer")  # the architecture enhance-default has today
    enh = ", ".join(f"{k}: {v}" for k, v in FILTER_ENHANCER.items())
    args = ", ".join(f"{k}: {v}" for k, v in ESTIMATOR.items() if k != "sample_rate")
    overrides = [
        f"output_dir={tmp_path / 'run'}",
        "model.arch=enhancer_snr",
        f"model.args={{{args}, enhancer_arch: filter_enhancer, enhancer: {{{enh}}}}}",
        f"snr_estimator.enhancer_from={source}",
    ]
    module = SnrEstimatorModule(load_config(TINY, overrides))
    report = apply_init(module.net, module.init_spec(), "enhancer_snr")
    base, _ = load_network(source)
    assert sorted(report.copied) == sorted(f"enhancer.{n}" for n in base.state_dict())
    torch.testing.assert_close(module.net.enhancer.decode.weight, base.decode.weight)
    fast = SnrEstimatorModule(load_config(TINY, _overrides(tmp_path, source)))  # enhancer_arch: fast_enhancer
    with pytest.raises(ConfigError, match="it is a filter_enhancer model, the run's enhancer .* is fast_enhancer"):
        apply_init(fast.net, fast.init_spec(), "enhancer_snr")
    with pytest.raises(ModelError, match="not an enhancer with one output"):
        build_model("enhancer_snr", enhancer_arch="conv_tasnet", enhancer={"n_src": 2}, **ESTIMATOR)


@pytest.mark.slow
def test_tiny_run_lowers_the_error_and_exports_a_self_contained_estimator(tmp_path: Path) -> None:
    source = _enhancer_dir(tmp_path)
    assert (
        main(
            [
                "train",
                str(TINY),
                *_overrides(tmp_path, source),
                "trainer.max_steps=24",
                "trainer.enable_progress_bar=false",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "version_0" / "metrics.csv").open()))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])  # the head corrects the raw estimate
    net, config = load_network(tmp_path / "run" / "export")  # weights of head and enhancer, no other file needed
    assert config.task == "snr" and config.arch == "enhancer_snr"
    base, _ = load_network(source)
    torch.testing.assert_close(net.enhancer.decode.weight, base.decode.weight)
    assert net.out.weight.abs().sum() > 0

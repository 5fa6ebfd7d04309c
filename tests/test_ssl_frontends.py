"""SSL encoders as separator front ends: frozen and fine-tuned heads, layer mixes, portable exports, a tiny training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import sepkit
import sepkit.train.ssl  # noqa: F401  (registers paradigm ssl)
from sepkit.cli.main import main
from sepkit.errors import ModelError
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model, load_network
from sepkit_fixtures import export_test_model, export_tiny_ssl_encoder

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
HEADS = {
    "ssl_masker": {
        "n_src": 2,
        "n_filters": 16,
        "kernel_size": 16,
        "ssl_channels": 8,
        "n_blocks": 2,
        "n_repeats": 1,
        "bn_chan": 8,
        "hid_chan": 16,
        "skip_chan": 8,
    },
    "ssl_blstm": {"n_src": 1, "n_fft": 256, "hidden": 16, "layers": 2, "spectrum": True},
}

FIRST_HEAD_LAYER = {"ssl_masker": "ssl_proj.weight", "ssl_blstm": "blstm.weight_ih_l0"}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny_ssl_encoder(tmp_path_factory.mktemp("ssl") / "tiny-encoder")


def _head(arch: str, encoder: Path | dict, mode: str = "frozen", **args: object) -> torch.nn.Module:
    return build_model(
        arch,
        encoder=encoder if isinstance(encoder, dict) else str(encoder),
        sample_rate=8000,
        encoder_mode=mode,
        **{**HEADS[arch], **args},
    )


@pytest.mark.parametrize("arch", ["ssl_masker", "ssl_blstm"])
def test_frozen_front_end_trains_the_head_and_the_layer_mix_only(arch: str, encoder_dir: Path) -> None:
    net = _head(arch, encoder_dir).train()
    wav = torch.randn(2, 4000) * 0.1
    est = net(wav)
    assert est.shape == (2, net.n_src, 4000)
    est.square().mean().backward()
    encoder = net.frontend.encoder
    assert not encoder.training  # frozen: eval mode (no dropout) even while the head trains
    assert all(p.grad is None and not p.requires_grad for p in encoder.parameters())
    assert net.frontend.layer_weights.grad is not None and net.frontend.layer_weights.grad.abs().sum() > 0
    first = dict(net.named_parameters())[FIRST_HEAD_LAYER[arch]]  # what sees the SSL features
    assert first.grad is not None and first.grad.abs().sum() > 0
    torch.testing.assert_close(net.frontend.layer_mix(), torch.full((3,), 1 / 3))  # starts as an even mix


@pytest.mark.parametrize("arch", ["ssl_masker", "ssl_blstm"])
def test_finetuned_front_end_updates_the_encoder(arch: str, encoder_dir: Path) -> None:
    net = _head(arch, encoder_dir, "finetune", layer=-1).train()
    assert net.frontend.encoder.training and net.frontend.layer_weights is None
    net(torch.randn(2, 4000) * 0.1).square().mean().backward()
    grads = [p.grad for p in net.frontend.encoder.parameters() if p.requires_grad]
    assert grads and sum(float(g.abs().sum()) for g in grads if g is not None) > 0


def test_one_encoder_export_feeds_heads_that_load_without_it(encoder_dir: Path, tmp_path: Path) -> None:
    moved = shutil.copytree(encoder_dir, tmp_path / "encoder")
    net = _head("ssl_masker", moved).eval()
    original, _ = load_network(encoder_dir)
    for (name, a), b in zip(net.frontend.encoder.state_dict().items(), original.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)  # the head starts from the exported weights
    args = net.export_args(
        {**HEADS["ssl_masker"], "encoder": str(moved), "sample_rate": 8000, "encoder_mode": "frozen"}
    )
    assert args["encoder"]["arch"] == "ssl_encoder" and args["encoder"]["source"] == str(moved)
    config = ModelConfig(arch="ssl_masker", args=args, sample_rate=8000, task="separate", n_src=2, name="head")
    export_model(net, tmp_path / "head", config)
    shutil.rmtree(moved)  # the encoder's directory is gone: the head carries its shape and weights
    loaded, _ = load_network(tmp_path / "head")
    wav = torch.randn(1, 4000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(loaded(wav), net(wav))


def test_front_end_errors_name_the_problem(encoder_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="encoder_mode"):
        _head("ssl_masker", encoder_dir, "thawed")
    with pytest.raises(ModelError, match="layers 0..2"):
        _head("ssl_masker", encoder_dir, layer=5)
    with pytest.raises(ModelError, match="runs at 8000 Hz"):
        build_model("ssl_blstm", encoder=str(encoder_dir), sample_rate=16000)
    enhancer = export_test_model(tmp_path / "enh", sample_rate=8000)
    with pytest.raises(ModelError, match="not an SSL encoder"):
        _head("ssl_blstm", enhancer)


@pytest.mark.slow
def test_tiny_separator_with_an_ssl_front_end_trains_end_to_end(encoder_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        str(RECIPES / "ssl_pretrain" / "tiny_ssl_masker.yaml"),
        f"output_dir={out}",
        f"model.args.encoder={encoder_dir}",
        "trainer.max_steps=6",
        "checkpoint.every_n_train_steps=3",
        "trainer.enable_progress_bar=false",
        "validation.metrics=[]",
    ]
    assert main(argv) == 0
    stored = json.loads((out / "export" / "config.json").read_text())
    assert stored["arch"] == "ssl_masker" and stored["args"]["encoder"]["arch"] == "ssl_encoder"
    model = sepkit.load(out / "export", device="cpu")
    assert model.task == "separate" and model.n_src == 2
    mixture = np.random.default_rng(0).standard_normal(6000).astype(np.float32) * 0.1
    assert model.separate(mixture, 8000).shape == (2, 6000)

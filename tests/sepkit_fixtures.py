"""Test helpers importable from any test: small models built here (never shipped), synthetic audio, the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from sepkit.models import build_model, register_model
from sepkit.pretrained import ModelConfig, export_model
from sepkit.train.config import load_config

PIT_TINY = Path(__file__).resolve().parent.parent / "recipes" / "pit" / "tiny.yaml"


@register_model("test_conv")
class ConvTestModel(nn.Module):
    """Two 'same' convolutions: one-sided receptive field = kernel - 1 samples."""

    def __init__(self, n_src: int = 1, kernel: int = 33, hidden: int = 8, sample_rate: int = 16000, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.sample_rate, self.n_src = sample_rate, n_src
        self.inp = nn.Conv1d(1, hidden, kernel, padding=kernel // 2)
        self.out = nn.Conv1d(hidden, n_src, kernel, padding=kernel // 2)
        self.receptive_field = 2 * (kernel // 2)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        residual = 0.1 * self.out(torch.tanh(self.inp(wav[:, None])))
        if self.n_src == 1:
            return wav[:, None] * 0.5 + residual
        # a separator's sources sum to its input, as the engine's gain matching makes them (gain 1 here)
        return wav[:, None] / self.n_src + residual - residual.mean(1, keepdim=True)


def export_test_model(out: Path, task: str = "enhance", n_src: int = 1, sample_rate: int = 16000) -> Path:
    net = ConvTestModel(n_src=n_src, sample_rate=sample_rate)
    config = ModelConfig(
        arch="test_conv",
        args={"n_src": n_src, "sample_rate": sample_rate},
        sample_rate=sample_rate,
        task=task,
        n_src=n_src,
        name=out.name,
        inference={"chunk_seconds": 0.5, "overlap_seconds": 0.1, "batch_size": 3},
    )
    card = "---\ntraining_data: none (test fixture)\nscores: {si_sdri: 0.0}\n---\n# test model\n"
    return export_model(net, out, config, card)


# small enough to stream sample by sample in a test; the shipped sizes differ only in width
CAUSAL = {  # name -> (architecture, its arguments)
    "filter_enhancer": ("filter_enhancer", {"hidden": 32, "layers": 2}),
    "filter_enhancer_lookahead": ("filter_enhancer", {"hidden": 32, "layers": 2, "lookahead": 2}),
    "filter_enhancer_floor": ("filter_enhancer", {"hidden": 32, "layers": 2, "lookahead": 2, "noise_floor": 0.3}),
    "fast_enhancer": ("fast_enhancer", {"hidden": 32, "layers": 2, "smooth_bins": 5, "smooth_frames": 4}),
}


def export_causal(out: Path, name: str, seed: int = 0, **args: float) -> Path:
    """Export a small causal enhancer (``name`` a key of ``CAUSAL``) whose output depends on what it has heard."""
    torch.manual_seed(seed)
    arch, defaults = CAUSAL[name]
    args = {**defaults, **args}
    net = build_model(arch, **args)
    with torch.no_grad():  # a model that changes its input with what it has seen, not the pass-through it starts as
        net.decode.weight.normal_(0.0, 1.0)
        net.feat_scale.fill_(0.5)
    config = ModelConfig(arch=arch, args=args, sample_rate=16000, task="enhance", n_src=1, name=out.name)
    return export_model(net, out, config, "---\ntraining_data: none (test fixture)\n---\n# test\n")


def speechlike(seconds: float, sample_rate: int = 16000, seed: int = 0, channels: int = 1) -> np.ndarray:
    """Harmonic, amplitude-modulated signal plus a little noise: (channels, frames) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = []
    for c in range(channels):
        f0 = 110 + 60 * rng.random() + 20 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        x = sum(np.sin(h * phase) / h for h in range(1, 12) if h * 250 < sample_rate / 2)
        env = 0.5 * (1 + np.sin(2 * np.pi * (3 + c) * t)) ** 2
        out.append(0.2 * x * env + 0.01 * rng.standard_normal(t.size))
    return np.stack(out).astype(np.float32)


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``sepkit ARGS...`` in this process: the exit code and what it wrote to standard output and error."""
    from sepkit.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# A tiny SSL encoder at 8 kHz (stride 160 = 20 ms) with 16-d features, 2 blocks: builds in milliseconds.
TINY_SSL_ENCODER = {
    "sample_rate": 8000,
    "stem_channels": 16,
    "stem_layers": [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2]],
    "dim": 16,
    "layers": 2,
    "heads": 2,
    "ff_dim": 32,
    "pos_conv_kernel": 8,
    "pos_conv_groups": 2,
    "dropout": 0.0,
}


def export_tiny_ssl_encoder(out: Path, seed: int = 0, **args: object) -> Path:
    """Export an untrained tiny ``ssl_encoder`` (task ssl), the front end the SSL head tests load."""
    from sepkit.models import build_model

    torch.manual_seed(seed)
    full = {**TINY_SSL_ENCODER, **args}
    net = build_model("ssl_encoder", **full)
    config = ModelConfig(
        arch="ssl_encoder", args=full, sample_rate=int(full["sample_rate"]), task="ssl", n_src=1, name=out.name
    )
    return export_model(net, out, config, "---\ntask: ssl\n---\n# tiny test encoder\n")


def short_pit_run(out: Path, arch: str, args: str, num_workers: int = 0, steps: int = 12) -> dict:
    """``recipes/pit/tiny.yaml`` with model ``arch``/``args`` as a ``steps``-step run: 20 items in batches of 4
    (5 steps an epoch), validation every 4 steps without metrics, checkpoints every 3 steps, no progress bar."""
    return load_config(
        PIT_TINY,
        [
            f"output_dir={out}",
            f"model.arch={arch}",
            f"model.args={args}",
            "data.train.n_items=20",
            "data.valid.n_items=4",
            f"trainer.max_steps={steps}",
            "trainer.val_check_interval=4",
            "trainer.check_val_every_n_epoch=null",
            "checkpoint.every_n_train_steps=3",
            "trainer.enable_progress_bar=false",
            "validation.metrics=[]",
            f"data.num_workers={num_workers}",
        ],
    )

"""How well a segmental SNR estimator serves data purification, scored on a recipe's validation set.

Besides the mean absolute error in dB: the error of the frame weights w = sigmoid(SNR) that
purification uses (estimated against true), and how often a frame lands on the right side of 0 dB
(where w crosses 0.5). A constant guess (the set's mean true SNR) is scored beside it: the floor to beat.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sepkit.data.manifest import read_manifest
from sepkit.data.sources import AudioPool
from sepkit.errors import ConfigError
from sepkit.losses.segmental import estimate_errors, segmental_snr
from sepkit.pretrained import load_network
from sepkit.train.config import load_config
from sepkit.train.datasets import build_dataset
from sepkit.train.snr_estimator_module import speech_and_noise


def frame_errors(model_dir: str, config_path: Path, items: int) -> dict[str, float]:
    """Scores of the estimator in ``model_dir`` on the first ``items`` items of the config's ``data.valid``."""
    config = load_config(config_path, [])
    net, model_cfg = load_network(model_dir)
    opts = config.get("snr_estimator") or {}
    floor, ceil = float(opts.get("snr_floor", -30.0)), float(opts.get("snr_ceil", 40.0))
    data = build_dataset(config["data"]["valid"], "data.valid", int(model_cfg.sample_rate), int(config.get("seed", 0)))
    pairs = []
    for i in range(min(items, len(data))):
        speech, noise = speech_and_noise(data[i])
        pairs.append((torch.as_tensor(data[i]["mixture"]).float(), speech.float(), noise.float()))
    return _scores(net, pairs, floor, ceil)


def recording_errors(model_dir: str, manifest: Path, items: int) -> dict[str, float]:
    """Scores on noisy recordings whose clean versions are known: a manifest's entries with ``path`` and ``clean``
    (e.g. the premixtures ``recipes/pse/prepare.py`` writes), so on the recordings purification will rate."""
    net, model_cfg = load_network(model_dir)
    entries = [e for e in read_manifest(manifest) if e.get("clean")][:items]
    if not entries:
        raise ConfigError(f"{manifest}: no entries with a 'clean' path")
    rate = int(model_cfg.sample_rate)
    noisy, clean = AudioPool(entries, rate), AudioPool([{**e, "path": e["clean"]} for e in entries], rate)
    pairs = []
    for i in range(len(entries)):
        x, s = noisy.load(i), clean.load(i)
        n = min(x.shape[-1], s.shape[-1])
        pairs.append((x[:n], s[:n], x[:n] - s[:n]))
    return _scores(net, pairs)


def _scores(
    net: torch.nn.Module,
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    floor: float = -30.0,
    ceil: float = 40.0,
) -> dict[str, float]:
    """Estimator against truth over ``(mixture, speech, noise)`` triples, beside a constant guess."""
    est_all, true_all = [], []
    with torch.no_grad():
        for mixture, speech, noise in pairs:
            truth = segmental_snr(speech, noise, net.n_fft, net.hop, floor, ceil)
            est = net(mixture[None])[0]
            n = min(est.shape[-1], truth.shape[-1])
            est_all.append(est[:n]), true_all.append(truth[:n])
    est, truth = torch.cat(est_all).double(), torch.cat(true_all).double()
    const = torch.full_like(truth, float(truth.mean()))
    model, guess = estimate_errors(est, truth), estimate_errors(const, truth)
    return {
        "frames": int(truth.numel()),
        "mae_db": float(model["mae_db"]),
        "mae_db_constant": float(guess["mae_db"]),
        "weight_mae": float(model["weight_mae"]),
        "weight_mae_constant": float(guess["weight_mae"]),
        "side_of_0db_accuracy": float(model["side_accuracy"]),
        "side_of_0db_accuracy_constant": float(guess["side_accuracy"]),
        "correlation": float(torch.corrcoef(torch.stack([est, truth]))[0, 1]),
    }

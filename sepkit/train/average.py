"""Average the weights of several checkpoints of one run (``sepkit export --average``).

The mean of the last few checkpoints of a run whose learning rate has decayed is a cheap ensemble folded into
one network: ESPnet and SpeechBrain ship it for the same reason. Only checkpoints of the same network can be
averaged: the same architecture and arguments, and the same tensors with the same shapes. A model folder (an
export, or a shipped model) counts as a checkpoint of its network, so that a run can be averaged with the
weights it started from after that run's own checkpoints are gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sepkit.errors import ConfigError
from sepkit.train.checkpoint_file import load_checkpoint
from sepkit.train.module import model_args
from sepkit.train.warm_start import base_config, source_weights

AVERAGED_KEY = "sepkit_averaged_steps"
# Set on a model folder's stand-in checkpoint: the name that AVERAGED_KEY lists for it, as it has no step of its own.
FOLDER_KEY = "sepkit_average_folder"


def load_average_source(path: str | Path, like: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint file, or a model folder's weights shaped as a checkpoint of ``like``'s network.

    A folder must hold the same architecture with the same arguments as ``like``. It keeps ``like``'s run record
    and step (it adds no training to the run's totals); its entry in ``AVERAGED_KEY`` is its folder name.
    """
    path = Path(path)
    if not path.is_dir():
        return load_checkpoint(path)
    folder = base_config(path)
    model = like["hyper_parameters"]["config"]["model"]
    theirs, ours = _plain(folder.args), _plain(model_args(like["hyper_parameters"]["config"]))
    if folder.arch != model.get("arch") or theirs != ours:
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        what = f"arch {folder.arch} against {model.get('arch')}" if folder.arch != model.get("arch") else differ
        raise ConfigError(f"--average {path}: another network than the checkpoint's ({what})")
    weights, _, _ = source_weights(path, "--average")
    rest = {k: v for k, v in like["state_dict"].items() if not k.startswith("net.")}  # not the network's: kept
    net = {f"net.{k}": v for k, v in weights.items()}
    return {**like, "state_dict": {**rest, **net}, FOLDER_KEY: path.name}


def _plain(args: dict[str, Any]) -> dict[str, Any]:
    """``args`` as JSON has them (tuples as lists), so that a folder's config.json and a run's config compare."""
    return json.loads(json.dumps(args))


def average_checkpoints(first: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """``first`` with its weights replaced by the mean over ``first`` and ``others``; its run record stays.

    Floating-point tensors are averaged in float64 and cast back; integer tensors (counters) must agree.
    The result's ``AVERAGED_KEY`` lists the global steps of the checkpoints it averages, first one first (a model
    folder's name in place of a step).
    """
    arch = first["hyper_parameters"]["config"].get("model")
    weights = first["state_dict"]
    for other in others:
        if other["hyper_parameters"]["config"].get("model") != arch:
            raise ConfigError(
                f"--average: checkpoint at step {other.get('global_step')} is of another model "
                f"({other['hyper_parameters']['config'].get('model')} against {arch})"
            )
        theirs = other["state_dict"]
        if set(theirs) != set(weights) or any(theirs[k].shape != weights[k].shape for k in weights):
            raise ConfigError(
                f"--average: checkpoint at step {other.get('global_step')} holds other tensors than the first one"
            )
    averaged: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        if value.is_floating_point():
            total = sum(ckpt["state_dict"][key].double() for ckpt in [first, *others])
            averaged[key] = (total / (1 + len(others))).to(value.dtype)
        else:
            if any(not torch.equal(ckpt["state_dict"][key], value) for ckpt in others):
                raise ConfigError(f"--average: the checkpoints disagree on the integer tensor {key}")
            averaged[key] = value
    steps = [_step_label(ckpt) for ckpt in [first, *others]]
    return {**first, "state_dict": averaged, AVERAGED_KEY: steps}


def _step_label(ckpt: dict[str, Any]) -> int | str:
    """A checkpoint's global step, or a model folder's name."""
    return ckpt.get(FOLDER_KEY) or int(ckpt.get("global_step", 0))


__all__ = ["AVERAGED_KEY", "average_checkpoints", "load_average_source"]

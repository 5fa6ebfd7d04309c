"""Average the weights of several checkpoints of one run (``sepkit export --average``).

The mean of the last few checkpoints of a run whose learning rate has decayed is a cheap ensemble folded into
one network: ESPnet and SpeechBrain ship it for the same reason. Only checkpoints of the same network can be
averaged: the same architecture and arguments, and the same tensors with the same shapes.
"""

from __future__ import annotations

from typing import Any

import torch

from sepkit.errors import ConfigError

AVERAGED_KEY = "sepkit_averaged_steps"


def average_checkpoints(first: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """``first`` with its weights replaced by the mean over ``first`` and ``others``; its run record stays.

    Floating-point tensors are averaged in float64 and cast back; integer tensors (counters) must agree.
    The result's ``AVERAGED_KEY`` lists the global steps of the checkpoints it averages, first one first.
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
    steps = [int(ckpt.get("global_step", 0)) for ckpt in [first, *others]]
    return {**first, "state_dict": averaged, AVERAGED_KEY: steps}


__all__ = ["AVERAGED_KEY", "average_checkpoints"]

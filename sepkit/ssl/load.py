"""Find an SSL encoder for a head or a teacher: an exported directory (path or shipped name), or its bare shape.

Heads store the shape (``{arch, args}``) in their own ``config.json`` when exported, so an exported
separator rebuilds its encoder without the encoder's directory; its weights carry the encoder's.
"""

from __future__ import annotations

import os
from typing import Any, Union

import torch.nn as nn

from sepkit.errors import ModelError
from sepkit.models.registry import build_model
from sepkit.pretrained import load_network

EncoderSpec = Union[str, "os.PathLike[str]", dict]
SSL_TASK = "ssl"


def load_encoder(spec: EncoderSpec) -> tuple[nn.Module, dict[str, Any]]:
    """The encoder ``spec`` names and its portable description ``{arch, args, source}``.

    A string or path loads an exported SSL directory with its weights; a dict ``{arch, args}``
    builds that architecture untrained (its weights are expected to come from the caller's file).
    """
    if isinstance(spec, dict):
        if not isinstance(spec.get("arch"), str) or not isinstance(spec.get("args", {}), dict):
            raise ModelError(f"encoder: a mapping must hold 'arch' and 'args', not {spec!r}")
        net = build_model(spec["arch"], **spec.get("args", {}))
        described = {"arch": spec["arch"], "args": dict(spec.get("args", {})), "source": spec.get("source", "")}
    else:
        net, config = load_network(spec)
        if config.task != SSL_TASK:
            raise ModelError(f"encoder {spec}: a {config.task} model, not an SSL encoder (task {SSL_TASK})")
        described = {"arch": config.arch, "args": dict(config.args), "source": str(spec)}
    for attribute in ("sample_rate", "hop", "window", "dim", "num_layers"):
        if not hasattr(net, attribute):
            name = described["source"] or described["arch"]
            raise ModelError(f"encoder {name}: has no {attribute!r} (not an SSL encoder)")
    return net, described

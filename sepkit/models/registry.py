"""Name -> builder registry, so configs and pretrained directories name architectures by string.

Most architectures register when ``sepkit.models`` is imported. Those on the SSL stack register when
first asked for (``DEFERRED``): ``sepkit.ssl`` imports this registry, so ``sepkit.models`` importing
them at module level would make the two packages import each other.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch.nn as nn

from sepkit.errors import ModelError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
# Architecture -> the module that registers it, imported on first use.
DEFERRED = {
    "ssl_encoder": "sepkit.ssl.encoder",
    "ssl_masker": "sepkit.models.ssl_masker",
    "ssl_blstm": "sepkit.models.ssl_blstm",
}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make a model class or factory buildable as ``build_model(name, **args)``."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model architecture {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorate


def build_model(arch: str, **args: Any) -> nn.Module:
    """Build a registered architecture from its arguments (as stored in a config)."""
    builder = model_builder(arch)
    if builder is None:
        known = ", ".join(available_models()) or "none"
        raise ModelError(f"unknown model architecture {arch!r} (known: {known})")
    try:
        return builder(**args)
    except TypeError as exc:
        raise ModelError(f"bad arguments for architecture {arch!r}: {exc}") from exc


def model_builder(arch: str) -> Callable[..., nn.Module] | None:
    """The class or factory registered as ``arch`` (``None`` when there is none), e.g. to ask what it supports."""
    if arch not in _BUILDERS and arch in DEFERRED:
        importlib.import_module(DEFERRED[arch])
    return _BUILDERS.get(arch)


def available_models() -> list[str]:
    """Names of every registered architecture, the deferred ones included."""
    return sorted(set(_BUILDERS) | set(DEFERRED))

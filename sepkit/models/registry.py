"""Name -> builder registry, so configs and pretrained directories name architectures by string."""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from sepkit.errors import ModelError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


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
    if arch not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS)) or "none"
        raise ModelError(f"unknown model architecture {arch!r} (known: {known})")
    try:
        return _BUILDERS[arch](**args)
    except TypeError as exc:
        raise ModelError(f"bad arguments for architecture {arch!r}: {exc}") from exc


def model_builder(arch: str) -> Callable[..., nn.Module] | None:
    """The class or factory registered as ``arch`` (``None`` when there is none), e.g. to ask what it supports."""
    return _BUILDERS.get(arch)


def available_models() -> list[str]:
    """Names of every registered architecture."""
    return sorted(_BUILDERS)

"""Data layer: manifests, corpus preparation, on-the-fly mixing datasets, fixed evaluation sets.

Names load on first use (PEP 562), so light modules such as ``sepkit.data.paths`` import
without torch; add a new export to ``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "sepkit.data.augment": ("Augmentation",),
    "sepkit.data.fixed_sets": ("FixedSetDataset", "write_fixed_set"),
    "sepkit.data.manifest": ("file_entry", "read_manifest", "read_mixture_manifest", "write_manifest"),
    "sepkit.data.mixing": ("MixingDataset", "MixingOptions", "NoisySpeechDataset", "SpeakerMixtureDataset"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` when it is first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'sepkit.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

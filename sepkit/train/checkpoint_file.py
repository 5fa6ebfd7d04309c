"""Read a training checkpoint written by ``sepkit train`` without unpickling anything.

Its own module because both the exporter and warm starts read checkpoints, and warm starts are part of
building the training module that the exporter imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sepkit.errors import ConfigError
from sepkit.models.base import first_non_finite


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as a dict, loaded without pickle; ``ConfigError`` if it is not one of ours or holds a
    NaN or infinite weight (exporting or warm-starting from a diverged run would pass the NaN on)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise ConfigError(f"{path}: cannot load checkpoint ({' '.join(str(exc).split())[:200]})") from exc
    if not isinstance(ckpt, dict) or "config" not in ckpt.get("hyper_parameters", {}) or "state_dict" not in ckpt:
        raise ConfigError(f"{path}: not a sepkit training checkpoint (no config or weights)")
    spoilt = first_non_finite(ckpt["state_dict"].items())
    if spoilt is not None:
        raise ConfigError(
            f"{path}: weight {spoilt} is NaN or infinite: a diverged run's checkpoint; use an earlier one"
        )
    return ckpt


__all__ = ["load_checkpoint"]

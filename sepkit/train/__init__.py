"""Training: configs, the shared spine (data, trainer, checkpoints, resume, export) and the paradigms.

``load_config`` reads a recipe; ``train`` runs it. Lightning is imported only when training
starts, so that ``import sepkit`` and the CLI stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepkit.train.config import load_config


def train(config: dict[str, Any], **kwargs: Any) -> Path:
    """Train from a resolved config (see ``sepkit.train.run.train``); returns the export folder."""
    from sepkit.train.run import train as _train

    return _train(config, **kwargs)


__all__ = ["load_config", "train"]

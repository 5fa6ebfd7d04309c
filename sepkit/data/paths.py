"""Where corpora live: the one definition of the data root, so no machine path is written anywhere else."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SEPKIT_DATA"  # corpus root; recipes reference it as ${data}


def data_root() -> Path:
    """The corpus root: ``$SEPKIT_DATA``, else ``${XDG_DATA_HOME:-~/.local/share}/sepkit`` (not created here)."""
    explicit = os.environ.get(DATA_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "sepkit"

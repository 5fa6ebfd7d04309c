"""Where corpora live: the one definition of the data root, so no machine path is written anywhere else."""

from __future__ import annotations

import os
import re
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


def portable(text: str) -> str:
    """``text`` with the data root written as ``$SEPKIT_DATA``, so records (model cards) name no machine's path."""
    root = data_root()
    for prefix in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
        if len(Path(prefix).parts) > 1:  # never rewrite a bare "/"
            text = re.sub(re.escape(prefix) + r"(?![\w.-])", "$" + DATA_ENV, text)
    return text

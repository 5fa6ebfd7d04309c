"""sepkit: speech enhancement and separation toolkit.

>>> import sepkit
>>> model = sepkit.load("enhance-default")
>>> clean = model.enhance(noisy, sample_rate)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sepkit.api import SepkitModel


def load(name_or_dir: Any = "enhance-default", device: str = "auto", **kwargs: Any) -> "SepkitModel":
    """Load a shipped model by name or an exported model directory (see ``sepkit.api.load``)."""
    from sepkit.api import load as _load

    return _load(name_or_dir, device=device, **kwargs)


__all__ = ["__version__", "load"]

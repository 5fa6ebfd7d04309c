"""Classical enhancers that a trained model must beat, run with their packages' defaults.

``noisereduce`` (spectral gating, non-stationary mode by default) is the usual one-line
denoiser people reach for; it is an optional dependency (``pip install sepkit[eval]``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sepkit.errors import ConfigError

Enhancer = Callable[[np.ndarray, int], np.ndarray]  # (C, T) float32 at its rate -> (C, T)


def _noisereduce(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    try:
        import noisereduce
    except ImportError as exc:
        raise ConfigError("the noisereduce baseline needs the noisereduce package: pip install 'sepkit[eval]'") from exc
    # noisereduce returns NaN for a channel of digital silence (e.g. the unused side of a stereo
    # recording): such a channel passes through as the silence it is.
    out = np.stack([noisereduce.reduce_noise(y=ch, sr=sample_rate, n_jobs=1) if np.any(ch) else ch for ch in audio])
    return out.astype(np.float32)


BASELINES: dict[str, Enhancer] = {"noisereduce": _noisereduce}


def baseline_enhancer(name: str) -> Enhancer:
    """The baseline enhancer called ``name``; ``ConfigError`` naming the known ones otherwise."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r} (known: {', '.join(sorted(BASELINES))})")
    return BASELINES[name]

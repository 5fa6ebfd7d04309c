"""The input the CPU benchmarks share: a real recording, looped to the length a benchmark wants.

Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this folder on the path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample


def recording(path: Path, rate: int, seconds: float) -> np.ndarray:
    """The loudest channel of ``path`` at ``rate``, looped to ``seconds``, float32."""
    audio, sr = read_audio(path)
    x = resample(torch.from_numpy(audio[np.argmax((audio**2).sum(-1))]), sr, rate).numpy()
    return np.tile(x, int(np.ceil(seconds * rate / x.size)))[: int(seconds * rate)].astype(np.float32)

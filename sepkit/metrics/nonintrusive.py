"""Non-intrusive metrics: DNSMOS P.835 (Reddy et al. 2022), a MOS that needs no reference, via speechmos.

The model sees 16 kHz audio in 9.01 s windows moved by 1 s and the scores are averaged over
windows (as in Microsoft's ``dnsmos_local.py``): a clip shorter than 9.01 s is repeated until it
is long enough, and up to the last ~2 s of a longer clip can fall after the last window. Cost
grows linearly with duration (one window per second beyond 9 s). speechmos refuses samples
outside [-1, 1]; such a clip is scaled down to a peak of 1 (with a warning), never clipped. NaN or
infinite samples are refused with a ValueError that says so.
"""

from __future__ import annotations

import warnings

import numpy as np

from sepkit.metrics._common import MetricWarning, as_signal, resample

DNSMOS_RATE = 16000
DNSMOS_WINDOW = 9.01  # seconds the model sees at once
COLUMNS = ("ovrl", "sig", "bak", "p808")


def dnsmos(est: np.ndarray, sample_rate: int, personalized: bool = False) -> dict[str, float]:
    """Overall, signal, background and P.808 MOS of a 1-D clip; needs no reference."""
    from speechmos import dnsmos as _dnsmos

    x = resample(as_signal(est, "estimate"), sample_rate, DNSMOS_RATE).astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("DNSMOS: the clip holds NaN or infinite samples")
    peak = float(np.abs(x).max())
    if peak > 1.0:
        warnings.warn(f"DNSMOS input peaks at {peak:.3f} > 1; scaled to a peak of 1", MetricWarning, stacklevel=2)
        x = x / np.float32(peak)
    out = _dnsmos.run(x, DNSMOS_RATE, model_type="dnsmos_personalized" if personalized else "dnsmos")
    return {name: float(out[f"{name}_mos"]) for name in COLUMNS}

"""A perceptual post-filter: attenuate further the bins a model already attenuates.

A model trained to reproduce its targets leaves a low residual of noise in the bins it turns down;
listeners and DNSMOS hear it. The post-filter of PercepNet (Valin et al., 2020), also used by
DeepFilterNet, maps each bin's effective gain ``g`` to ``g * (1 + beta) / (1 + beta / sin(pi g / 2)^2)``:
a bin the model passes (``g`` = 1) is kept, a bin it attenuates is attenuated more, the more so the
lower ``g``. Causal and frame-local, so streaming is unchanged.
"""

from __future__ import annotations

import math

import torch


def post_filter_scale(gain: torch.Tensor, beta: float) -> torch.Tensor:
    """The factor (in (0, 1]) each bin is multiplied by, given its effective gain ``gain`` >= 0."""
    g = gain.clamp(1e-4, 1.0)
    return (1.0 + beta) / (1.0 + beta / torch.sin(0.5 * math.pi * g).square())


def apply_post_filter(est: torch.Tensor, spec: torch.Tensor, beta: float) -> torch.Tensor:
    """``est`` (complex, a model's output spectrum) scaled per bin by the post-filter of ``|est| / |spec|``."""
    if beta <= 0:
        return est
    gain = est.abs() / spec.abs().clamp_min(1e-8)
    return est * post_filter_scale(gain, beta)

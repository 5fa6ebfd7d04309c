"""Negative ESTOI as a training loss (Jensen & Taal 2016), from ``torch_stoi``'s differentiable (E)STOI.

SI-SDR and spectral losses reward removing noise energy; ESTOI rewards keeping the speech envelope's
modulation in one-third-octave bands, which aggressive gains can flatten. ``torch_stoi`` (asteroid's
author; it matches ``pystoi`` to three decimals on our dev clips, as ``recipes/enhance/loss_balance.py``
prints) does the maths. This wrapper keeps its constant
buffers (band matrix, window, resampling kernel) out of checkpoints, so a run with the term and one
without save and load the same state, and scores zero for clips too short to hold ESTOI's 384 ms
segments, where the library would return nonsense.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch_stoi import NegSTOILoss

MIN_SECONDS = 0.5  # ESTOI needs 30 frames of 12.8 ms after silent frames go; shorter clips are not scored


def _constant_buffers(module: nn.Module) -> None:
    """Make every tensor ``module`` holds a non-persistent buffer: out of state dicts and optimisers.

    ``torch_stoi`` keeps its window and band matrix as frozen ``nn.Parameter``s, and torchaudio's
    resampler its kernel as a buffer; none is learnt, so none belongs in a checkpoint.
    """
    for child in module.modules():
        for name, parameter in list(child.named_parameters(recurse=False)):
            del child._parameters[name]
            child.register_buffer(name, parameter.detach(), persistent=False)
        for name, buffer in list(child.named_buffers(recurse=False)):
            del child._buffers[name]
            child.register_buffer(name, buffer, persistent=False)


class NegEstoiLoss(nn.Module):
    """``-ESTOI(est, ref)`` per example, ``(..., T) -> (...)``; 0 where ``T`` is under ``MIN_SECONDS``."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.estoi = NegSTOILoss(self.sample_rate, extended=True)
        _constant_buffers(self.estoi)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Per-example loss of ``est`` against ``ref`` (same ``(..., T)`` shape), in float32."""
        if est.shape != ref.shape:
            raise ValueError(f"shape mismatch: estimates {tuple(est.shape)}, references {tuple(ref.shape)}")
        if est.shape[-1] < MIN_SECONDS * self.sample_rate:
            return est.new_zeros(est.shape[:-1])
        return self.estoi(est.float(), ref.float())

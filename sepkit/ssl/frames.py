"""Frame-grid helpers: move features between encoders, filterbanks and targets with different hops.

A frame grid is described by its hop and the sample at which frame 0 is centred (its offset), so
two grids can be aligned in time, not just stretched to the same length.
"""

from __future__ import annotations

import torch


def fit_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Crop ``x`` (B, F, ...) to ``frames`` frames, or pad by repeating its last frame (grids that differ by one)."""
    if x.shape[1] >= frames:
        return x[:, :frames]
    pad = x[:, -1:].expand(-1, frames - x.shape[1], *x.shape[2:])
    return torch.cat([x, pad], 1)


def resample_frames(
    x: torch.Tensor, src_hop: float, src_offset: float, dst_hop: float, dst_offset: float, frames: int
) -> torch.Tensor:
    """Features ``x`` (B, D, F) on one grid, linearly interpolated at the centres of ``frames`` frames of another."""
    centres = dst_offset + dst_hop * torch.arange(frames, device=x.device, dtype=torch.float64)
    pos = ((centres - src_offset) / src_hop).clamp(0, x.shape[-1] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=x.shape[-1] - 1)
    frac = (pos - lo).to(x.dtype)
    return x[..., lo] * (1 - frac) + x[..., hi] * frac

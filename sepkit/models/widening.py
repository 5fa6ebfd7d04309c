"""Net2Net-style widening: a narrower network's weights placed in a wider one so that it computes the same output.

The source's ``h`` units take the first places of each block of ``wide`` units (per gate of a GRU or LSTM, per
direction of a bidirectional layer); a new unit keeps its random incoming weights, and every weight from a new
unit to an old unit or to the output is zero, so the old units compute what they computed until training moves
those weights. Used by the architectures' ``load_widened`` (``init.widen`` in a config).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from sepkit.errors import ModelError

Grow = Callable[[str, torch.Tensor, torch.Tensor], "torch.Tensor | None"]


def old_unit_places(h: int, wide: int, blocks: int) -> torch.Tensor:
    """Where ``blocks`` consecutive groups of ``h`` old units sit among ``blocks`` groups of ``wide`` (e.g. two directions)."""
    return torch.cat([block * wide + torch.arange(h) for block in range(blocks)])


def grow_gated(old: torch.Tensor, new: torch.Tensor, gates: int, places: torch.Tensor | None) -> torch.Tensor:
    """A recurrent layer's weight or bias ``old`` (``gates`` blocks of ``h`` rows; 1: a linear layer's) grown into ``new``'s shape.

    Old rows go to the first ``h`` places of each gate's block; in a weight, old columns go to ``places`` (the
    input's old units; ``None``: the input did not grow) and an old row hears nothing from a new column.
    """
    h, wide = old.shape[0] // gates, new.shape[0] // gates
    grown = new.clone()
    rows, src = grown.view(gates, wide, *new.shape[1:]), old.view(gates, h, *old.shape[1:])
    if new.dim() == 1:
        rows[:, :h] = src
        return grown
    rows[:, :h] = 0.0
    rows[:, :h, places if places is not None else torch.arange(old.shape[1])] = src
    return grown


def grow_readout(old: torch.Tensor, new: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """A linear read-out's weight ``old`` (outputs x old units) grown to hear nothing from the new units."""
    grown = torch.zeros_like(new)
    grown[:, places] = old
    return grown


def load_grown(module: nn.Module, weights: dict[str, torch.Tensor], grow: Grow) -> list[str]:
    """Load ``weights`` into ``module``, each tensor of another shape through ``grow(name, old, new)``; the names grown.

    ``grow`` returns ``None`` for a tensor it does not know how to grow, which is a ``ModelError``.
    """
    merged, grown = {}, []
    for name, new in module.state_dict().items():
        old = weights[name]
        if old.shape == new.shape:
            merged[name] = old
            continue
        wider = grow(name, old, new)
        if wider is None:
            raise ModelError(f"load_widened: {name} has shape {tuple(old.shape)} here {tuple(new.shape)}")
        merged[name] = wider
        grown.append(name)
    module.load_state_dict(merged, strict=True)
    return grown

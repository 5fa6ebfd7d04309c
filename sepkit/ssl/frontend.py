"""An SSL encoder as a separator's feature branch: frozen or fine-tuned, one layer or a learned mix of all.

The mix is SUPERB's: a softmax over one weight per layer, applied to layer-normalised features.
Features are then moved onto the head's own frame grid by linear interpolation in time (frame
centres matched, not lengths stretched), so any filterbank or STFT hop works with any encoder.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from sepkit.errors import ModelError
from sepkit.ssl.frames import resample_frames
from sepkit.ssl.load import EncoderSpec, load_encoder

MODES = ("frozen", "finetune")


class SslFrontEnd(nn.Module):
    """Encoder features (B, dim, frames) on a head's frame grid; ``portable`` describes the encoder for export."""

    def __init__(self, encoder: EncoderSpec, sample_rate: int, mode: str = "frozen", layer: int | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ModelError(f"encoder_mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.encoder, self.portable = load_encoder(encoder)
        if int(self.encoder.sample_rate) != int(sample_rate):
            raise ModelError(
                f"encoder {self.portable['source'] or ''} runs at {self.encoder.sample_rate} Hz, "
                f"the model at {sample_rate} Hz"
            )
        layers = int(self.encoder.num_layers) + 1
        if layer is not None and not -layers <= int(layer) < layers:
            raise ModelError(f"layer {layer}: the encoder has layers 0..{layers - 1}")
        self.mode, self.layer, self.dim = mode, layer, int(self.encoder.dim)
        self.layer_weights = nn.Parameter(torch.zeros(layers)) if layer is None else None
        if hasattr(self.encoder, "mask_embedding"):  # pretraining only; unused here (DDP wants every trainable used)
            self.encoder.mask_embedding.requires_grad_(False)
        if mode == "frozen":
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> "SslFrontEnd":
        super().train(mode)
        if self.mode == "frozen":
            self.encoder.eval()  # no dropout in a frozen encoder
        return self

    def layer_mix(self) -> torch.Tensor:
        """The weight of every layer in the mix (one-hot for a fixed ``layer``)."""
        if self.layer_weights is not None:
            return self.layer_weights.softmax(0)
        onehot = torch.zeros(int(self.encoder.num_layers) + 1)
        onehot[self.layer] = 1.0
        return onehot

    def forward(self, wav: torch.Tensor, frames: int, hop: float, offset: float) -> torch.Tensor:
        """Features (B, dim, frames) at the head's frames: frame j centred at sample ``offset + hop * j``."""
        with torch.set_grad_enabled(self.mode == "finetune" and torch.is_grad_enabled()):
            hidden = self.encoder(wav)
        if self.layer_weights is None:
            mixed = hidden[self.layer]
            mixed = nn.functional.layer_norm(mixed, mixed.shape[-1:])
        else:
            stacked = torch.stack([nn.functional.layer_norm(h, h.shape[-1:]) for h in hidden])
            mixed = (self.layer_weights.softmax(0).to(stacked.dtype)[:, None, None, None] * stacked).sum(0)
        grid_hop, grid_offset = float(self.encoder.hop), float(self.encoder.window) / 2
        return resample_frames(mixed.transpose(1, 2), grid_hop, grid_offset, hop, offset, frames)


def portable_encoder_args(args: dict[str, Any], front: SslFrontEnd) -> dict[str, Any]:
    """``args`` with ``encoder`` replaced by the encoder's shape, so an exported head loads without its directory."""
    return {**args, "encoder": dict(front.portable)}

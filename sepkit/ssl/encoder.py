"""The shared SSL encoder: a stem (convolutions or log-mel) and a Transformer, one checkpoint for many heads.

``forward(wav)`` returns the features of every layer, ``[stem projection, block 1, ..., block N]``
(``num_layers + 1`` tensors of shape (B, frames, dim)); front ends pick one or learn a weighted
sum. Pretraining objectives use the two halves separately: ``stem_features`` (what wav2vec 2.0
quantises and TERA reconstructs) and ``context`` (which replaces masked frames by a learned
embedding before the Transformer). The Transformer is torchaudio's wav2vec 2.0 encoder.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch
import torch.nn as nn

from sepkit.errors import ModelError
from sepkit.models.registry import register_model
from sepkit.ssl.stems import WAV2VEC2_LAYERS, ConvStem, LogMelStem

STEMS = ("conv", "logmel")


@runtime_checkable
class FeatureEncoder(Protocol):
    """What front ends need from an encoder: layer features on a known frame grid."""

    sample_rate: int
    hop: int  # samples between frames
    window: int  # samples one frame sees; frame i covers [hop * i, hop * i + window)
    dim: int
    num_layers: int  # Transformer blocks; forward returns num_layers + 1 tensors

    def __call__(self, wav: torch.Tensor) -> list[torch.Tensor]: ...


@register_model("ssl_encoder")
class SslEncoder(nn.Module):
    """Stem + Transformer; ``(B, T)`` -> list of ``num_layers + 1`` feature tensors (B, frames, dim)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        stem: str = "conv",
        stem_channels: int = 256,
        stem_layers: Sequence[Sequence[int]] | None = None,
        n_mels: int = 80,
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        dim: int = 256,
        layers: int = 4,
        heads: int = 4,
        ff_dim: int | None = None,
        pos_conv_kernel: int = 128,
        pos_conv_groups: int = 16,
        dropout: float = 0.1,
        layer_norm_first: bool = False,
        normalize_waveform: bool = True,
    ) -> None:
        super().__init__()
        if stem not in STEMS:
            raise ModelError(f"ssl_encoder: stem must be one of {', '.join(STEMS)}, not {stem!r}")
        if dim % heads or dim % pos_conv_groups or layers < 1:
            raise ModelError("ssl_encoder: dim must divide by heads and pos_conv_groups, and layers must be >= 1")
        from torchaudio.models.wav2vec2.components import _get_encoder

        self.sample_rate, self.dim, self.num_layers = int(sample_rate), int(dim), int(layers)
        self.normalize_waveform, self.layer_norm_first = bool(normalize_waveform), bool(layer_norm_first)
        if stem == "conv":
            self.stem: nn.Module = ConvStem(stem_channels, stem_layers or WAV2VEC2_LAYERS)
        else:
            ms = self.sample_rate / 1000
            self.stem = LogMelStem(self.sample_rate, n_mels, round(window_ms * ms), round(hop_ms * ms))
        self.hop, self.window, self.stem_dim = self.stem.hop, self.stem.window, self.stem.out_dim
        self.frame_rate = self.sample_rate / self.hop
        self.encoder = _get_encoder(
            in_features=self.stem_dim,
            embed_dim=dim,
            dropout_input=dropout,
            pos_conv_kernel=pos_conv_kernel,
            pos_conv_groups=pos_conv_groups,
            num_layers=layers,
            num_heads=heads,
            attention_dropout=dropout,
            ff_interm_features=ff_dim or 4 * dim,
            ff_interm_dropout=dropout,
            dropout=dropout,
            layer_norm_first=layer_norm_first,
            layer_drop=0.0,
        )
        self.mask_embedding = nn.Parameter(torch.empty(dim).uniform_())
        self._initialise()

    def _initialise(self) -> None:
        """wav2vec 2.0's initialisation: He-normal stem convolutions (PyTorch's default shrinks the signal ~10× per
        layer), BERT's N(0, 0.02) Transformer weights (torchaudio's ``_init_transformer_params``)."""
        from torchaudio.models.wav2vec2.components import _init_transformer_params

        for module in self.stem.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight)
        self.encoder.transformer.layers.apply(_init_transformer_params)

    def stem_features(self, wav: torch.Tensor) -> torch.Tensor:
        """Stem frames (B, F, stem_dim); inputs shorter than one window are zero-padded to it."""
        if wav.shape[-1] < self.window:
            wav = nn.functional.pad(wav, (0, self.window - wav.shape[-1]))
        if self.normalize_waveform:
            wav = (wav - wav.mean(-1, keepdim=True)) / (wav.std(-1, keepdim=True) + 1e-5)
        return self.stem(wav)

    def normalized_stem(self, features: torch.Tensor) -> torch.Tensor:
        """The layer-normalised stem features the Transformer's projection sees (wav2vec 2.0's quantiser input)."""
        return self.encoder.feature_projection.layer_norm(features)

    def context(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Layer features of stem frames; frames where ``mask`` (B, F) is true are replaced by the mask embedding."""
        x = self.encoder.feature_projection(features)
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_embedding.to(x.dtype), x)
        outputs = [x, *self.encoder.transformer.get_intermediate_outputs(x)]
        if self.layer_norm_first:  # pre-LN blocks: torchaudio normalises the last output only in forward()
            outputs[-1] = self.encoder.transformer.layer_norm(outputs[-1])
        return outputs

    def forward(self, wav: torch.Tensor) -> list[torch.Tensor]:
        """Features of every layer, ``[projection, block 1, ..., block num_layers]``, each (B, frames, dim)."""
        return self.context(self.stem_features(wav))

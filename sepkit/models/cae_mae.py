"""CAE/MAE (Wang, Venkataramani & Smaragdis 2020): a clean and a mixture autoencoder sharing one latent space.

Features are compressed STFT magnitudes ``|X|^power`` (power 0.5, 1024-point Hann window, hop
256 at 16 kHz by default). The clean autoencoder (CAE) is trained on clean speech, the mixture
autoencoder (MAE) on noisy speech; training ties the MAE's latent space to the CAE's
(``sepkit.train.cae_mae``). Enhancement is the MAE encoder followed by the CAE decoder, turned
back into a waveform with the noisy input's phase: ``ŝ = iSTFT(D_A(E_B(|X|^p))^(1/p), ∠X)``.

The module holds both autoencoders, so one state dict serves training, export and further
training (e.g. adapting the MAE to new noisy recordings); ``forward`` runs only the inference path.
``parts="enhance"`` keeps only that path (MAE encoder, CAE decoder): half the weights, for a
smaller shipped model that can enhance but not be trained further with CAE/MAE.

``level="utterance"`` is a side path for the input level, which the encoders' time-mean
divisions discard and the paper's decoders can only guess: the features are divided by their
per-utterance mean, ``g = mean_{f,t} |X|^p``, before the encoders, and resynthesis multiplies the
decoder's output by the same input's ``g``. The autoencoders and every loss then work on
level-free features (the method is unchanged), the encoders see every clip at one level whatever
its loudness, and the output follows the input's level exactly: ``ŝ = iSTFT((g·D_A(E_B(x/g)))^(1/p), ∠X)``.
In enhancement ``g`` is the noisy input's; the CAE decoder still decodes MAE codes alone.
``separable=True`` factors each convolution (``sepkit.models.spectral_ae``). ``bound="input"``
caps the decoded magnitude at the noisy input's in every time-frequency bin, ``min(|Ŝ|, |X|)``: a
noisy bin holds the speech plus the noise, so an estimate above it is the decoder inventing
energy; the cap touches only resynthesis, not training. ``time_norm="none"`` drops the encoders'
per-layer time-mean divisions (``sepkit.models.spectral_ae``). ``decoder_output`` ("softplus" or
"linear") is both decoders' last layer without its BatchNorm (and Softplus), ``encoder_output`` both
encoders' (the latent code); ``depthwise_init="identity"`` starts the separable layers' depthwise filters
as the identity, ``encoder_gru`` ends both encoders with a GRU over the code (``sepkit.models.spectral_ae``).
``mask="ratio"`` (not in the paper) resynthesises with a gain instead of the decoded magnitude: the same MAE code
``z = E_B(x)`` goes through both decoders, and each bin of the noisy input is scaled by ``min(1, D_A(z) / D_B(z))``
(in the features' power, so raised to ``1/power``), the CAE decoder's clean reading of the code over the MAE
decoder's noisy one: ``ŝ = iSTFT(X · min(1, D_A(z)/D_B(z))^(1/p))``. The enhancement is still the MAE encoder
followed by the CAE decoder; what changes is that an error both decoders make alike (blur, level) cancels, so the
path is no longer capped by how well the CAE reconstructs clean speech, and a MAE copied from the CAE starts at the
input itself. It keeps the MAE decoder in the inference path (``parts: enhance`` drops only the CAE encoder).
All default off: the paper's network.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn

from sepkit.audio.stft import add_window, istft, power_spectrum, stft
from sepkit.errors import ModelError
from sepkit.models.registry import register_model
from sepkit.models.spectral_ae import SpectralAutoencoder

CAE_DIMS = (512, 256, 128, 64)
MAE_DIMS = (512, 400, 300, 200, 100, 64)
PARTS = ("both", "enhance")  # both autoencoders, or only the enhancement path
LEVELS = ("none", "utterance")  # where the input level goes: discarded (the paper), or around the autoencoders
BOUNDS = ("none", "input")  # resynthesis: the decoded magnitude as it is, or capped at the noisy input's
MASKS = ("none", "ratio")  # resynthesis: the decoded magnitude, or the input scaled by the two decoders' ratio
_POWER_FLOOR = 1e-10  # |X|² floor: keeps the compressed magnitude's gradient finite at digital silence
_RATIO_FLOOR = 1e-6  # D_B floor of mask="ratio": the gain stays finite where the MAE decoder reads silence


@register_model("cae_mae")
class CaeMae(nn.Module):
    """CAE + MAE on compressed STFT magnitudes; ``forward``: ``(B, T)`` noisy -> ``(B, 1, T)`` enhanced."""

    n_src = 1

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop: int = 256,
        cae_dims: Sequence[int] = CAE_DIMS,
        mae_dims: Sequence[int] = MAE_DIMS,
        kernel_size: int = 7,
        power: float = 0.5,
        parts: str = "both",
        level: str = "none",
        separable: bool = False,
        bound: str = "none",
        time_norm: str = "layer",
        decoder_output: str = "layer",
        encoder_output: str = "layer",
        depthwise_init: str = "default",
        encoder_gru: int = 0,
        mask: str = "none",
    ) -> None:
        super().__init__()
        if not (n_fft > 0 and 0 < hop <= n_fft // 2 and 0 < power <= 1):
            raise ModelError(
                f"cae_mae: need n_fft > 0, 0 < hop <= n_fft/2 and 0 < power <= 1 "
                f"(got n_fft={n_fft}, hop={hop}, power={power})"
            )
        if not cae_dims or not mae_dims or int(cae_dims[-1]) != int(mae_dims[-1]):
            raise ModelError(
                f"cae_mae: the CAE and MAE need the same latent width (last of cae_dims and mae_dims), "
                f"got {list(cae_dims)} and {list(mae_dims)}"
            )
        if parts not in PARTS:
            raise ModelError(f"cae_mae: parts must be one of {', '.join(PARTS)}, not {parts!r}")
        if level not in LEVELS:
            raise ModelError(f"cae_mae: level must be one of {', '.join(LEVELS)}, not {level!r}")
        if bound not in BOUNDS:
            raise ModelError(f"cae_mae: bound must be one of {', '.join(BOUNDS)}, not {bound!r}")
        if mask not in MASKS:
            raise ModelError(f"cae_mae: mask must be one of {', '.join(MASKS)}, not {mask!r}")
        self.sample_rate, self.n_fft, self.hop, self.power = int(sample_rate), int(n_fft), int(hop), float(power)
        n_freqs = self.n_fft // 2 + 1
        options = (kernel_size, separable, time_norm, decoder_output, encoder_output, depthwise_init, encoder_gru)
        self.cae = SpectralAutoencoder(n_freqs, cae_dims, *options)
        self.mae = SpectralAutoencoder(n_freqs, mae_dims, *options)
        self.parts, self.level, self.bound, self.mask = parts, level, bound, mask
        if parts == "enhance":  # the halves that only training uses
            del self.cae.encoder
            if mask == "none":
                del self.mae.decoder
        add_window(self, self.n_fft, "hann")

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, F, frames)`` of ``(B, T)`` waveforms, in float32 even under autocast."""
        with torch.autocast(device_type=wav.device.type, enabled=False):
            return stft(wav.float(), self.n_fft, self.hop, self.window)

    def magnitudes(self, spec: torch.Tensor) -> torch.Tensor:
        """Compressed magnitudes ``|X|^power`` ``(B, F, frames)`` at the input's level."""
        return power_spectrum(spec, _POWER_FLOOR) ** (self.power / 2)

    def input_level(self, spec: torch.Tensor) -> torch.Tensor:
        """The level side path's ``g`` ``(B, 1, 1)``: mean compressed magnitude per utterance (1 with ``level: none``)."""
        if self.level == "none":
            return spec.real.new_ones(spec.shape[0], 1, 1)
        return self.magnitudes(spec).mean((-2, -1), keepdim=True)

    def compress(self, spec: torch.Tensor) -> torch.Tensor:
        """The autoencoders' features: ``|X|^power`` ``(B, F, frames)``, divided by ``input_level``."""
        features = self.magnitudes(spec)
        if self.level == "none":
            return features
        return features / features.mean((-2, -1), keepdim=True)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Compressed magnitudes of ``(B, T)`` waveforms."""
        return self.compress(self.spectrum(wav))

    def resynthesize(self, features: torch.Tensor, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveforms ``(B, length)`` from features with the phase and level of ``spec`` (the input's)."""
        magnitude = (features.float().clamp_min(0) * self.input_level(spec)) ** (1.0 / self.power)
        if self.bound == "input":
            magnitude = torch.minimum(magnitude, spec.abs())
        est = torch.polar(magnitude, spec.angle())
        return istft(est, self.n_fft, self.hop, self.window, length)

    def inference_only(self, args: dict[str, Any]) -> tuple["CaeMae", dict[str, Any]]:
        """A copy with only the enhancement path and the build arguments that make it (``parts: enhance``)."""
        args = {**args, "parts": "enhance"}
        slim = CaeMae(**args)
        dropped = ("cae.encoder.", "mae.decoder.") if self.mask == "none" else ("cae.encoder.",)
        slim.load_state_dict({k: v for k, v in self.state_dict().items() if not k.startswith(dropped)})
        return slim.train(self.training), args

    def through(self, wav: torch.Tensor, encoder: nn.Module, decoder: nn.Module) -> torch.Tensor:
        """``(B, T)`` waveforms through one encoder and one decoder, resynthesised with their own phase and level.

        Enhancement is the MAE encoder with the CAE decoder; the other pairings show what each autoencoder
        keeps (``recipes/cae_mae/path_scores.py``).
        """
        spec = self.spectrum(wav)
        return self.resynthesize(decoder(encoder(self.compress(spec))), spec, wav.shape[-1])

    def ratio_gain(self, spec: torch.Tensor) -> torch.Tensor:
        """``mask="ratio"``'s gain ``(B, F, frames)`` in [0, 1]: ``min(1, D_A(z) / D_B(z))^(1/power)``, ``z = E_B(x)``."""
        code = self.mae.encoder(self.compress(spec))
        clean, noisy = self.cae.decoder(code).float(), self.mae.decoder(code).float()
        ratio = clean.clamp_min(0) / noisy.clamp_min(_RATIO_FLOOR)
        return ratio.clamp_max(1.0) ** (1.0 / self.power)

    def ratio_masked(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` noisy speech scaled bin by bin by ``ratio_gain``, back as ``(B, T)``: ``mask="ratio"``'s path.

        Any network that still has the MAE decoder can run it, whichever ``mask`` it was built with.
        """
        spec = self.spectrum(wav)
        return istft(spec * self.ratio_gain(spec), self.n_fft, self.hop, self.window, wav.shape[-1])

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Enhance ``(B, T)`` noisy speech into ``(B, 1, T)``."""
        if self.mask == "none":
            return self.through(wav, self.mae.encoder, self.cae.decoder).unsqueeze(1)
        return self.ratio_masked(wav).unsqueeze(1)

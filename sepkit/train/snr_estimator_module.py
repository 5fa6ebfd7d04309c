"""Training the segmental SNR estimator for data purification, where the true SNR is known.

Items are noisy speech made from clean speech and noise (``noisy_speech`` from manifests, or the
``synthetic`` set), so the SNR of every frame is known: ``10 log10(Σ(w·s)² / Σ(w·n)²)`` over the
estimator's own Hann frames, clamped to ``[snr_floor, snr_ceil]`` dB (a frame of silence would
otherwise be −∞). The network (``snr_estimator``, config ``task: snr``) regresses it with the
mean squared error, as in Sivaraman & Kim (2021). Validation logs that error (``val/loss``) and
the mean absolute error in dB (``val/mae_db``), and in the terms purification uses: the error of the
frame weights ``sigmoid(SNR)`` (``val/weight_mae``) and the share of frames put on the right side of
0 dB (``val/side_accuracy``); the exported directory has ``task: snr`` and is
what ``sepkit personalize --purify --snr-model DIR`` loads.
"""

from __future__ import annotations

from typing import Any

import torch

from sepkit.errors import ConfigError
from sepkit.losses.segmental import estimate_errors, segmental_snr
from sepkit.train.config import section
from sepkit.train.module import TrainingModule, register_paradigm
from sepkit.train.warm_start import InitSpec, keyed_init_spec

SNR_KEYS: dict[str, Any] = {
    "snr_floor": -30.0,  # dB: targets below are clamped (frames of silence)
    "snr_ceil": 40.0,  # dB: targets above are clamped (frames without noise)
    # arch enhancer_snr: the exported enhancer (e.g. enhance-default; its arch is model.args.enhancer_arch) it reads
    # SNR from; the spine copies it into the model's enhancer (init: {from: ..., into: enhancer, strict: true},
    # sepkit.train.warm_start)
    "enhancer_from": None,
}


def speech_and_noise(item: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The speech (sources summed) and noise of an item ``(T,)`` or batch ``(B, T)`` whose truth the SNR is."""
    speech = torch.as_tensor(item["sources"]).sum(-2)
    noise = torch.as_tensor(item["noise"]) if "noise" in item else torch.as_tensor(item["mixture"]) - speech
    return speech, noise.to(speech.dtype)  # synthetic items carry no noise: the rest of the mixture


@register_paradigm("snr_estimator")
class SnrEstimatorModule(TrainingModule):
    """MSE regression of the per-frame SNR (dB) of noisy speech whose speech and noise are known."""

    def __init__(self, config: dict[str, Any]) -> None:
        if config.get("task") != "snr":
            raise ConfigError(f"paradigm snr_estimator needs task: snr, not {config.get('task')!r}")
        super().__init__(config)
        self.opts = section(config, "snr_estimator", SNR_KEYS)
        self.floor, self.ceil = float(self.opts["snr_floor"]), float(self.opts["snr_ceil"])
        if not self.floor < self.ceil:
            raise ConfigError(f"snr_estimator.snr_floor ({self.floor}) must be below snr_ceil ({self.ceil})")
        if not hasattr(self.net, "hop") or not hasattr(self.net, "n_fft"):
            raise ConfigError(
                f"paradigm snr_estimator needs a model with n_fft and hop (arch snr_estimator), "
                f"not {config['model']['arch']}"
            )
        spec = self.init_spec()  # checked here; the spine applies it (sepkit.train.warm_start)
        if hasattr(self.net, "enhancer") and spec is None:
            raise ConfigError(
                "arch enhancer_snr needs snr_estimator.enhancer_from (or init.from): the exported "
                "enhancer (e.g. enhance-default) whose estimates it calibrates"
            )
        if self.opts["enhancer_from"] and not hasattr(self.net, "enhancer"):
            raise ConfigError(
                f"snr_estimator.enhancer_from applies to arch enhancer_snr, not {self.config['model']['arch']}"
            )

    def init_spec(self) -> InitSpec | None:
        """``snr_estimator.enhancer_from: X`` is ``init: {from: X, into: enhancer, strict: true}``: the frozen
        enhancer of an ``enhancer_snr`` model gets all of X's weights."""
        return keyed_init_spec(self.config, "snr_estimator.enhancer_from", self.opts.get("enhancer_from"), "enhancer")

    def targets(self, batch: dict[str, Any]) -> torch.Tensor:
        """True segmental SNR ``(B, frames)`` of the batch on the estimator's frame grid."""
        speech, noise = speech_and_noise(batch)
        return segmental_snr(speech, noise, self.net.n_fft, self.net.hop, self.floor, self.ceil)

    def estimates(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimated and true SNR in dB ``(B, frames)``, on the frames both have."""
        est = self(batch["mixture"])
        truth = self.targets(batch)
        frames = min(est.shape[-1], truth.shape[-1])
        return est[..., :frames], truth[..., :frames].to(est.dtype)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        est, truth = self.estimates(batch)
        loss = (est - truth).square().mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["mixture"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        est, truth = (t.float() for t in self.estimates(batch))
        size = batch["mixture"].shape[0]
        self.log("val/loss", (est - truth).square().mean(), batch_size=size, sync_dist=True)
        for name, value in estimate_errors(est, truth).items():
            self.log(f"val/{name}", value, batch_size=size, sync_dist=True, prog_bar=name == "mae_db")

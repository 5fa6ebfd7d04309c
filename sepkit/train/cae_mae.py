"""CAE/MAE training (Wang, Venkataramani & Smaragdis 2020; docs/methods.md section 3) on unpaired clean and noisy audio.

The network is ``cae_mae`` (``sepkit.models.cae_mae``); the data an ``unpaired`` set whose items
hold a noisy clip (``mixture``), an unrelated clean clip (``clean``) and whether the noisy clip is
noise alone (``noise_only``); the noisy clip's own reference never reaches this module. With
features x = |STFT|^0.5, codes z = E(x), ε ~ N(0, latent_noise²), A the CAE and B the MAE:

    stage cae    clean only:  1·‖D_A(z_a+ε) − x_a‖² + 0.001·mean(z_a²)
    stage mae    noisy only, CAE frozen:  1·‖D_B(z_b+ε) − x_b‖² + 0.001·mean(z_b²)
                 + 0.001·mean(D_A(z_b+ε)²) on noise-only clips (the clean output of noise is silence)
    stage cycle  stage mae plus, on speech-containing clips, with z_ba = E_A(D_A(z_b+ε)):
                 10·‖D_B(z_ba+ε') − x_b‖² + 1·‖z_ba − z_b‖² + 0.001·mean(z_ba²)

``schedule: staged`` runs ``cae_steps`` optimiser steps of stage cae, then ``mae_steps`` of stage
mae, then stage cycle to the end; the stage is a pure function of the global step, so a resumed
run continues in the right stage. ``schedule: joint`` trains both from the first step: the CAE
on its own loss, the MAE on the cycle-stage loss. ``cycle: false`` is the ablation: the cycle
terms are never used (stage mae to the end). The weights are the ``weights`` keys.

``mae_init: cae`` (not in the paper, off by default) starts the MAE, at its first step, as a copy of
the CAE as trained so far (it needs ``mae_dims`` equal to ``cae_dims``): the enhancement path then
begins as the CAE applied to the noisy input, its codes on the CAE's own code distribution, instead
of a code the CAE decoder has never seen.

One term is not in the paper and is off by default: ``latent_moments`` (weight > 0) adds, in the
MAE stages, the squared gap between the per-channel mean and spread of z_b on speech-containing
clips and those of the frozen CAE's codes of the batch's unrelated clean clips. It ties the two
code distributions without pairing anything.

The CAE is frozen wherever the MAE's losses use it: it runs in eval mode (BatchNorm running
statistics) with detached parameters, so gradients reach the MAE through it but never change it,
and in joint training the CAE learns from clean speech only.

Validation is the base class's on a paired set (SI-SDRi, PESQ, ESTOI of the enhancement path;
pairs are used for evaluation only) plus ``val/latent_distance``: ‖E_B(noisy) − E_A(clean)‖²,
how far the MAE's code of a noisy clip is from the CAE's code of its clean speech.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn
from torch.func import functional_call

from sepkit.errors import ConfigError
from sepkit.losses import cycle_terms, kl_unit_variance, moment_matching, reconstruction_loss, silence_loss
from sepkit.models.cae_mae import CaeMae
from sepkit.train.config import section
from sepkit.train.module import TrainingModule, register_paradigm

SCHEDULES = ("staged", "joint")
MAE_INITS = ("none", "cae")
STAGES = {"joint": 0, "cae": 1, "mae": 2, "cycle": 3}  # logged as train/stage
CAE_MAE_KEYS: dict[str, Any] = {
    "schedule": "staged",  # staged | joint
    "cae_steps": 1000,  # staged: optimiser steps of stage cae (clean data only)
    "mae_steps": 0,  # staged: then this many steps of stage mae before the cycle stage
    "cycle": True,  # false: the ablation without cycle terms
    "latent_noise": 1.0,  # standard deviation of ε (1: the unit-variance posterior)
    "resynthesize_cycle": False,  # true: x̂_ba goes through iSTFT (noisy phase) and STFT before E_A (authors' code)
    "mae_init": "none",  # cae: the MAE starts its first step as a copy of the trained CAE (not in the paper)
    "weights": {},
}
WEIGHT_KEYS: dict[str, Any] = {
    "recon_clean": 1.0,
    "kl_clean": 0.001,
    "recon_noisy": 1.0,
    "kl_noisy": 0.001,
    "noise_only": 0.001,
    "cycle_recon": 10.0,
    "cycle_latent": 1.0,
    "cycle_kl": 0.001,
    "latent_moments": 0.0,  # not in the paper: z_b's per-channel mean and spread tied to the CAE's clean codes
}


def stage_at(step: int, schedule: str, cae_steps: int, mae_steps: int, cycle: bool) -> str:
    """The training stage of optimiser step ``step`` (0-based): joint, cae, mae or cycle."""
    if schedule == "joint":
        return "joint"
    if step < cae_steps:
        return "cae"
    if not cycle or step < cae_steps + mae_steps:
        return "mae"
    return "cycle"


@register_paradigm("cae_mae")
class CaeMaeModule(TrainingModule):
    """Staged or joint CAE/MAE training on unpaired clean and noisy clips (module doc)."""

    batch_keys = ("mixture", "clean", "noise_only")  # an unpaired item: no reference of the noisy clip

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        if not isinstance(self.net, CaeMae):
            raise ConfigError(f"paradigm cae_mae needs model.arch: cae_mae, not {config['model']['arch']!r}")
        if self.net.parts != "both":
            raise ConfigError("paradigm cae_mae trains both autoencoders: model.args.parts must be both")
        self.opts = section(config, "cae_mae", CAE_MAE_KEYS)
        self.weights = {k: float(v) for k, v in section(self.opts, "weights", WEIGHT_KEYS, where="cae_mae.").items()}
        self.schedule = str(self.opts["schedule"])
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"cae_mae.schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        self.cae_steps, self.mae_steps = int(self.opts["cae_steps"]), int(self.opts["mae_steps"])
        if self.cae_steps < 0 or self.mae_steps < 0:
            raise ConfigError("cae_mae.cae_steps and cae_mae.mae_steps must not be negative")
        self.cycle = bool(self.opts["cycle"])
        self.latent_noise = float(self.opts["latent_noise"])
        self.resynthesize_cycle = bool(self.opts["resynthesize_cycle"])
        self.mae_init = str(self.opts["mae_init"])
        if self.mae_init not in MAE_INITS:
            raise ConfigError(f"cae_mae.mae_init must be one of {', '.join(MAE_INITS)}, not {self.mae_init!r}")
        if self.mae_init == "cae":
            if self.schedule != "staged":
                raise ConfigError("cae_mae.mae_init: cae copies the CAE trained in stage cae: it needs schedule staged")
            if not same_shapes(self.net.cae, self.net.mae):
                raise ConfigError(
                    "cae_mae.mae_init: cae needs the MAE shaped as the CAE (model.args.mae_dims = cae_dims)"
                )

    def check_item(self, item: dict[str, Any], where: str) -> None:
        """Training items: a noisy clip and an unrelated clean clip of one length; validation items: the base's."""
        super().check_item(item, where)
        if where == "data.train":
            mixture, clean = torch.as_tensor(item["mixture"]), torch.as_tensor(item["clean"])
            if clean.shape != mixture.shape:
                raise ConfigError(
                    f"{where} items must hold mixture (T,) and clean (T,), got {tuple(mixture.shape)} "
                    f"and {tuple(clean.shape)}"
                )

    def stage(self, step: int) -> str:
        """The stage of optimiser step ``step`` under this run's schedule."""
        return stage_at(step, self.schedule, self.cae_steps, self.mae_steps, self.cycle)

    # ---- training ------------------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """With ``mae_init: cae``, the MAE becomes a copy of the CAE at the first step of the MAE stages."""
        if self.mae_init == "cae" and self.global_step == self.cae_steps:
            self.net.mae.load_state_dict(self.net.cae.state_dict())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        stage = self.stage(self.global_step)
        terms = self.terms(batch, stage)
        loss = self.weighted(terms)
        size = batch["mixture"].shape[0]
        for name, value in terms.items():
            self.log(f"train/{name}", value.detach(), batch_size=size)
        self.log("train/stage", float(STAGES[stage]), batch_size=size)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=size)
        return loss

    def terms(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        """The unweighted loss terms of ``stage`` on an unpaired batch (``clean``, ``mixture``, ``noise_only``)."""
        terms: dict[str, torch.Tensor] = {}
        if stage in ("cae", "joint"):
            terms.update(self.cae_terms(batch["clean"]))
        if stage != "cae":
            with_cycle = stage == "cycle" or (stage == "joint" and self.cycle)
            clean = batch["clean"] if self.weights["latent_moments"] > 0 else None
            terms.update(self.mae_terms(batch["mixture"], batch["noise_only"].bool(), with_cycle, clean))
        return terms

    def weighted(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss: the terms times their ``weights``."""
        return torch.stack([self.weights[name] * value for name, value in terms.items()]).sum()

    def _noisy(self, z: torch.Tensor) -> torch.Tensor:
        """``z + ε``: what the decoders see (the posterior's sample)."""
        return z + self.latent_noise * torch.randn_like(z)

    def cae_terms(self, clean: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted stage-cae terms of clean waveforms ``(B, T)``."""
        cae = self.net.cae
        cae.train()
        x_a = self.net.features(clean)
        z_a = cae.encoder(x_a)
        return {
            "recon_clean": reconstruction_loss(cae.decoder(self._noisy(z_a)), x_a),
            "kl_clean": kl_unit_variance(z_a),
        }

    def mae_terms(
        self, noisy: torch.Tensor, noise_only: torch.Tensor, with_cycle: bool, clean: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Unweighted MAE terms of noisy waveforms ``(B, T)``; ``noise_only`` ``(B,)`` marks noise-alone clips.

        With unrelated ``clean`` waveforms, also the ``latent_moments`` term (not in the paper).
        """
        mae = self.net.mae
        mae.train()
        spec = self.net.spectrum(noisy)
        x_b = self.net.compress(spec)
        z_b = mae.encoder(x_b)
        z_b_noisy = self._noisy(z_b)  # one sample for both decoders, as in the authors' code
        cae_encoder, cae_decoder = frozen(self.net.cae.encoder), frozen(self.net.cae.decoder)
        x_ba = cae_decoder(z_b_noisy)
        terms = {
            "recon_noisy": reconstruction_loss(mae.decoder(z_b_noisy), x_b),
            "kl_noisy": kl_unit_variance(z_b),
            "noise_only": silence_loss(x_ba, noise_only),
        }
        if clean is not None:
            with torch.no_grad():
                z_a = cae_encoder(self.net.features(clean))
            terms["latent_moments"] = moment_matching(z_b, z_a, ~noise_only)
        if with_cycle:
            speech = ~noise_only
            if self.resynthesize_cycle:
                x_ba = self.net.features(self.net.resynthesize(x_ba, spec, noisy.shape[-1]))
            z_ba = cae_encoder(x_ba)
            cyc = cycle_terms(x_b, z_b, z_ba, mae.decoder(self._noisy(z_ba)), speech)
            terms.update({"cycle_recon": cyc.reconstruction, "cycle_latent": cyc.latent, "cycle_kl": cyc.kl})
        return terms

    # ---- validation ----------------------------------------------------------------------
    def validation_outputs(self, est: torch.Tensor, batch: dict[str, Any]) -> None:
        with torch.no_grad():
            z_noisy = self.net.mae.encoder(self.net.features(batch["mixture"]))
            z_clean = self.net.cae.encoder(self.net.features(batch["sources"][:, 0]))
        self.log("val/latent_distance", reconstruction_loss(z_noisy, z_clean), batch_size=est.shape[0], sync_dist=True)


def same_shapes(a: nn.Module, b: nn.Module) -> bool:
    """Whether ``a`` and ``b`` hold tensors of the same names and shapes (one can be loaded into the other)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


def frozen(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``module`` in eval mode with detached parameters: gradients pass through it to its input, never into it."""
    module.eval()
    state = {name: p.detach() for name, p in module.named_parameters()}
    state.update(dict(module.named_buffers()))
    return lambda x: functional_call(module, state, (x,))

"""Personalised enhancement from one speaker's noisy recordings (Sivaraman & Kim; docs/methods.md section 4).

One paradigm, three ideas, chosen in the ``personalize:`` section:

- ``method: pseudose``: the network learns f(p + n) ≈ p, where p is a premixture (a crop of the
  user's own noisy recording) and n noise injected from a noise set. The distance D is
  ``personalize.distance``: negative SNR (JSTSP, the default), SD-SDR (2020), SI-SDR or MSE (2021).
- ``method: cm``: contrastive mixtures. Each batch becomes pairs (``sepkit.data.premixtures``):
  positives share a premixture under two injected noises, negatives are two premixtures under
  one injected noise; the loss (``sepkit.losses.contrastive``) adds to PseudoSE's signal terms
  λ_p·D(y1, y2) on positives and λ_n·Φ(D(y1, y2), D(p1, p2)) on negatives.
- ``purify``: data purification. A segmental SNR estimator (a ``task: snr`` model, e.g. trained
  with ``recipes/snr_estimator``) rates every frame of the premixture; the loss is taken per
  frame (the estimator's window and hop, in seconds) and weighted by ``sigmoid(slope·(SNR̂ − offset))``
  (slope 1, offset 0 dB in the papers), so the noisy parts of the user's recordings teach less.
  ``purify.reduce`` says how: ``frames`` (the papers: the mean of w_t·D_t), ``energy`` (one SNR over
  w-weighted frame energies) or ``target`` (the plain distance to ŝ + w·(p − ŝ), where ŝ is the
  estimator's frozen enhancer's speech estimate of p: the recording where it is trusted, the
  enhancer's cleaning of it where not; ``sepkit personalize --purify``'s default, the only form
  that helped on noisy recordings in ``recipes/pse``).
  ``purify.model: oracle`` uses the true SNR instead, from the recordings' clean versions
  (``data.train.with_clean``): an experiment on a corpus speaker, the bound of what a perfect
  estimator could give.

``init_from`` starts from an exported model's weights (e.g. ``enhance-default``), at the run's
rate where the architecture allows it: it means ``init: {from: ..., strict: true}``, the one warm
start the spine applies before training and records in ``init.json`` (``sepkit.train.warm_start``).
Training on a supervised set instead (``noisy_speech`` of the speaker's clean speech, where
``sources`` is clean speech) makes the same PseudoSE loss a supervised speaker-specific
fine-tuning: the recipes' upper bound.

Validation is the spine's: SI-SDRi of the output against ``sources``. On a fixed set of the
speaker's held-out utterances with clean references that is the method's real score (the
recipes); on held-out premixtures with injected noise (``sepkit personalize``, which runs this
paradigm through ``sepkit.train.personalize_job``, where no clean speech exists) it measures the
PseudoSE task itself. ``val/loss`` is D without weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torchaudio

from sepkit.data.premixtures import contrastive_pairs
from sepkit.errors import ConfigError
from sepkit.losses.contrastive import PHI, ContrastiveOptions, contrastive_mixtures_loss
from sepkit.losses.segmental import (
    DISTANCES,
    PAPER_FRAMES_SECONDS,
    REDUCTIONS,
    frame_grid,
    match_frames,
    purification_weights,
    purified_target,
    segmental_snr,
    weighted_distance,
)
from sepkit.pretrained import load_network
from sepkit.train.config import lookup, section
from sepkit.train.module import TrainingModule, register_paradigm
from sepkit.train.warm_start import InitSpec, keyed_init_spec

METHODS = ("pseudose", "cm")
PERSONALIZE_KEYS: dict[str, Any] = {
    "method": "pseudose",  # pseudose | cm
    "init_from": None,  # base model (shipped name or exported directory) whose weights the run starts from
    "distance": "snr",  # D: snr | sd_sdr | si_sdr | mse
    "lambda_pos": 0.5,  # cm: weight of D(y1, y2) on positive pairs (2020 code)
    "lambda_neg": 2e-4,  # cm: weight of Φ on negative pairs (2020 code)
    "phi": "sq",  # cm: sq | abs | max
    "purify": None,  # null/false: off; true or {model, slope, offset_db}: data purification
}
ORACLE = "oracle"  # purify.model: the true SNR of each frame, from the recordings' clean versions (experiments)
PURIFY_KEYS: dict[str, Any] = {
    "model": "snr-estimator",  # a task: snr model (shipped name or exported directory), or "oracle"
    "slope": 1.0,  # w_t = sigmoid(slope · (SNR̂_t − offset_db))
    "offset_db": 0.0,
    # how the weights enter the loss: frames, the mean of w_t·D_t (the papers); energy, one SNR over w-weighted
    # frame energies; target, the plain distance to a purified target ŝ + w·(p − ŝ), ŝ the estimator's enhancer's
    # speech estimate of the recording (an enhancer_snr estimator) or, with model oracle, the clean recording
    "reduce": "frames",
}


@register_paradigm("personalize")
class PersonalizeModule(TrainingModule):
    """PseudoSE or contrastive mixtures on premixtures, optionally purification-weighted and warm-started."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.opts = section(config, "personalize", PERSONALIZE_KEYS)
        self.method = str(self.opts["method"])
        if self.method not in METHODS:
            raise ConfigError(f"personalize.method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.opts["distance"] not in DISTANCES:
            raise ConfigError(
                f"personalize.distance must be one of {', '.join(DISTANCES)}, not {self.opts['distance']!r}"
            )
        self.distance = DISTANCES[str(self.opts["distance"])]
        if self.opts["phi"] not in PHI:
            raise ConfigError(f"personalize.phi must be one of {', '.join(PHI)}, not {self.opts['phi']!r}")
        if config["task"] != "enhance" or int(self.net.n_src) != 1:
            raise ConfigError("paradigm personalize trains enhancers: task: enhance and a model with 1 output")
        if self.method == "cm" and int(lookup(config, "data.batch_size") or 4) < 2:
            raise ConfigError("personalize.method cm needs data.batch_size of 2 or more (pairs are made in the batch)")
        self.init_spec()  # a warm start named twice is an error now; the spine applies it (sepkit.train.warm_start)
        self.purify = self._purify_options(self.opts["purify"])
        # Frozen and outside the module's state (not trained, not in checkpoints); moved to the device when used.
        self._estimator: list[nn.Module] = []
        # the loss's frames: the papers' estimator grid; a loaded estimator sets its own
        self.window, self.hop = frame_grid(int(config["sample_rate"]), *PAPER_FRAMES_SECONDS)
        if self.purify is not None:
            if self.purify["reduce"] not in REDUCTIONS:
                raise ConfigError(
                    f"personalize.purify.reduce must be one of {', '.join(REDUCTIONS)}, not {self.purify['reduce']!r}"
                )
            if self.purify["reduce"] == "energy" and self.opts["distance"] != "snr":
                raise ConfigError("personalize.purify.reduce: energy needs personalize.distance: snr")
        self.oracle = self.purify is not None and str(self.purify["model"]) == ORACLE  # true SNRs (with_clean)
        # sources: the premixture (the target); cm pairs need both injected noises, the oracle the clean recording
        self.batch_keys = (
            "mixture",
            "sources",
            *(("noise", "noise_alt") if self.method == "cm" else ()),
            *(("clean",) if self.oracle else ()),
        )
        if self.purify is not None and not self.oracle:
            self._estimator.append(self._load_estimator(str(self.purify["model"])))
            if self.reduce == "target" and not hasattr(self._estimator[0], "estimate"):
                raise ConfigError(
                    f"personalize.purify.reduce: target needs an estimator that also estimates the "
                    f"speech (arch enhancer_snr), not {self.purify['model']}"
                )
        self.contrastive = ContrastiveOptions(  # method cm; the frame grid is final once the estimator is loaded
            distance=self.distance,
            lambda_pos=float(self.opts["lambda_pos"]),
            lambda_neg=float(self.opts["lambda_neg"]),
            phi=str(self.opts["phi"]),
            window=self.window,
            hop=self.hop,
            reduce=self.reduce,
        )

    def init_spec(self) -> InitSpec | None:
        """``personalize.init_from: X`` is ``init: {from: X, strict: true}``: all of the base's weights."""
        return keyed_init_spec(self.config, "personalize.init_from", self.opts["init_from"])

    @property
    def reduce(self) -> str:
        """How the purification-weighted frames make one loss (``purify.reduce``)."""
        return str(self.purify["reduce"]) if self.purify is not None else "frames"

    @staticmethod
    def _purify_options(value: Any) -> dict[str, Any] | None:
        if value is None or value is False:
            return None
        if value is True:
            return dict(PURIFY_KEYS)
        return section({"purify": value}, "purify", PURIFY_KEYS, where="personalize.")

    def _load_estimator(self, name: str) -> nn.Module:
        net, cfg = load_network(name)
        if cfg.task != "snr" or not hasattr(net, "hop_seconds"):
            raise ConfigError(
                f"personalize.purify.model {name}: a {cfg.task} model, not a segmental SNR estimator (task snr)"
            )
        self.window, self.hop = frame_grid(int(self.config["sample_rate"]), net.window_seconds, net.hop_seconds)
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval()

    # ---- purification ----------------------------------------------------------------------
    @torch.no_grad()
    def frame_weights(self, premixture: torch.Tensor, clean: torch.Tensor | None = None) -> torch.Tensor | None:
        """Purification weights ``(B, frames)`` of premixtures ``(B, T)`` on the loss's frame grid; ``None`` when off.

        With ``purify.model: oracle`` the SNR is the true one, from ``clean``, the premixtures' speech alone.
        """
        return self.purification(premixture, clean)[0]

    @torch.no_grad()
    def purification(
        self, premixture: torch.Tensor, clean: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Frame weights as ``frame_weights``, and for ``reduce: target`` the speech estimate ``(B, T)`` of the
        premixtures (the estimator's enhancer, or ``clean`` with the oracle); ``(None, None)`` when off."""
        if self.purify is None:
            return None, None
        speech = None
        if self.oracle:
            if clean is None:
                raise ConfigError(
                    "personalize.purify.model oracle needs the recordings' clean versions: "
                    "data.train.with_clean: true and a 'clean' path in every recording's entry"
                )
            snr = segmental_snr(clean.float(), (premixture - clean).float(), self.window, self.hop)
            speech = clean.float()
        else:
            estimator = self._estimator[0].to(premixture.device)
            rate, own = int(self.config["sample_rate"]), int(estimator.sample_rate)
            wav = premixture.float() if rate == own else torchaudio.functional.resample(premixture.float(), rate, own)
            if self.reduce == "target":
                snr, speech = estimator.estimate(wav)
                if rate != own:
                    speech = torchaudio.functional.resample(speech, own, rate)[..., : premixture.shape[-1]]
            else:
                snr = estimator(wav)
        weights = purification_weights(snr, float(self.purify["slope"]), float(self.purify["offset_db"]))
        return match_frames(weights, 1 + premixture.shape[-1] // self.hop), speech

    # ---- training ----------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        premixture = batch["sources"][:, 0]
        size = premixture.shape[0]
        weights, speech = self.purification(premixture, batch.get("clean"))
        if weights is not None:
            self.log("train/weight", weights.mean(), batch_size=size)
        target = premixture
        if speech is not None:  # reduce: target
            target = purified_target(premixture, speech.to(premixture.dtype), weights, self.hop)
            weights = None  # the purification is in the target; the distance is the plain one
        if self.method == "pseudose":
            est = self(batch["mixture"])[:, 0]
            loss = weighted_distance(est, target, self.distance, weights, self.window, self.hop, self.reduce).mean()
        else:
            loss = self.contrastive_step(batch, premixture, weights, target)
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def contrastive_step(
        self,
        batch: dict[str, Any],
        premixture: torch.Tensor,
        weights: torch.Tensor | None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The contrastive-mixtures loss of one batch (its items become as many pairs); ``target`` replaces the
        premixtures in the loss (not in the inputs) when purification purified them."""
        if "noise_alt" not in batch:
            raise ConfigError(
                "personalize.method cm needs training items with 'noise' and 'noise_alt' (data.train.type premixtures)"
            )
        pairs = contrastive_pairs(premixture, batch["noise"], batch["noise_alt"])
        y1, y2 = self(torch.cat([pairs.x1, pairs.x2]))[:, 0].chunk(2)
        w2 = weights[pairs.second] if weights is not None else None
        p1, p2 = (pairs.p1, pairs.p2) if target is None else (target, target[pairs.second])
        terms = contrastive_mixtures_loss(y1, y2, p1, p2, pairs.positive, self.contrastive, weights, w2)
        size = premixture.shape[0]
        for name in ("signal", "positive", "negative"):
            self.log(f"train/{name}", terms[name].mean(), batch_size=size)
        return terms["loss"].mean()

    def validation_loss(self, est: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return self.distance(est[:, 0], batch["sources"][:, 0])

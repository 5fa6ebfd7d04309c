"""Mixture invariant training (Wisdom et al. 2020): separation learnt from mixtures of mixtures.

Every training batch is split in half. Separation: item i of the first half and item i of the
second are two independent mixtures x1, x2. Enhancement: x1 is noisy speech from the first
half, x2 the noise alone of an item in the second (a noise-only recording). The network gets
x1 + x2, and its M outputs are remixed into (x1, x2) by the best of all 2^M assignments
(``sepkit.losses.mixit_loss``); no isolated source is used. For enhancement the first
``mixit.speech_outputs`` outputs may only join x1, the noisy speech.

``mixit.semi_supervised_ratio`` makes that share of the steps supervised: single mixtures with
their references, PIT over the M outputs on the thresholded SNR, outputs left without a
reference pushed to silence with the paper's ``10 log10(‖ŝ‖² + 10⁻²‖x‖²)``.

Validation is the paper's: single mixtures, SI-SDRi of the outputs that best match each
reference (``val/si_sdri``, an oracle choice of K of the M outputs). A deployed model has no
references, so validation also scores every fixed set of K outputs (best order per item) and
logs the best set's SI-SDRi as ``val/si_sdri_fixed``. That set goes into checkpoints and
becomes ``source_outputs`` in the exported ``config.json``: the outputs ``sepkit separate``
returns. The gap between the two scores says what the fixed choice costs.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Any

import torch

from sepkit.errors import ConfigError
from sepkit.losses import (
    assignment_table,
    mixit_loss,
    mixture_consistency,
    neg_si_sdr,
    pairwise_neg_si_sdr,
    pairwise_thresholded_snr,
    pit_loss,
)
from sepkit.losses.criteria import EPS
from sepkit.train.config import lookup, section
from sepkit.train.export import SOURCE_OUTPUTS_KEY
from sepkit.train.module import TrainingModule, register_paradigm

MIXIT_KEYS: dict[str, Any] = {
    "snr_max": 30.0,  # τ = 10^(-snr_max/10) in the thresholded SNR
    "consistency": "none",  # none | uniform | magsq: project training outputs onto their input mixture
    "semi_supervised_ratio": 0.0,  # share of steps trained with PIT on single mixtures and their references
    "speech_outputs": 1,  # enhance: the first this many outputs may only join the noisy speech
}
SILENT_FLOOR = 1e-2  # supervised outputs without a reference: 10 log10(‖ŝ‖² + SILENT_FLOOR·‖x‖²)


@lru_cache(maxsize=16)
def output_sets(n_out: int, n_ref: int) -> tuple[torch.Tensor, torch.Tensor, tuple[tuple[int, ...], ...]]:
    """Ordered choices ``(P, K)`` of K of M outputs, the index of each one's set ``(P,)``, and the sets."""
    sets = tuple(itertools.combinations(range(n_out), n_ref))
    position = {s: i for i, s in enumerate(sets)}
    orders = assignment_table(n_out, n_ref)  # every ordered choice, as PIT searches them
    set_of = [position[tuple(sorted(p))] for p in orders.tolist()]
    return orders, torch.tensor(set_of, dtype=torch.long), sets


def fixed_set_scores(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Summed SI-SDR ``(B, S)`` of each set of K outputs ``(B, M, T)``, best order, against ``ref`` ``(B, K, T)``."""
    orders, set_of, sets = output_sets(est.shape[1], ref.shape[1])
    orders, set_of = orders.to(est.device), set_of.to(est.device)
    pair = -pairwise_neg_si_sdr(est, ref).double()  # (B, M, K)
    totals = pair[:, orders, torch.arange(ref.shape[1], device=est.device)].sum(-1)  # (B, P)
    best = totals.new_full((est.shape[0], len(sets)), -math.inf)
    return best.scatter_reduce(1, set_of.expand_as(totals), totals, "amax")


@register_paradigm("mixit")
class MixITModule(TrainingModule):
    """MixIT on mixtures of two mixtures, optionally with supervised PIT steps; picks source outputs at validation."""

    selects_outputs = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.opts = section(config, "mixit", MIXIT_KEYS)
        self.snr_max = float(self.opts["snr_max"])
        self.ratio = float(self.opts["semi_supervised_ratio"])
        if not 0.0 <= self.ratio <= 1.0:
            raise ConfigError(f"mixit.semi_supervised_ratio must be within [0, 1], not {self.ratio}")
        self.consistency = str(self.opts["consistency"])
        if self.consistency not in ("none", "uniform", "magsq"):
            raise ConfigError(f"mixit.consistency must be none, uniform or magsq, not {self.consistency!r}")
        batch = int(lookup(config, "data.batch_size") or 4)
        if batch < 2 or batch % 2:
            raise ConfigError(
                f"mixit needs an even data.batch_size (halves are summed into mixtures of mixtures), not {batch}"
            )
        n_out = int(self.net.n_src)
        self.enhance = config["task"] == "enhance"
        self.allowed: torch.Tensor | None = None
        if self.enhance:
            speech = int(self.opts["speech_outputs"])
            if n_out < 2 or not 1 <= speech < n_out:
                raise ConfigError(
                    f"mixit enhancement needs 2 or more outputs and 1 <= mixit.speech_outputs < {n_out}, not {speech}"
                )
            self.allowed = torch.ones(n_out, 2, dtype=torch.bool)
            self.allowed[:speech, 1] = False  # speech outputs cannot explain the noise-only mixture
        # Training reads mixtures (their noise alone for enhancement), and sources only on supervised steps.
        self.batch_keys = ("mixture", *(("noise",) if self.enhance else ()), *(("sources",) if self.ratio else ()))
        # Outputs that are the sources after export; chosen at every validation.
        self.source_outputs: list[int] | None = [0] if self.enhance else None
        self._set_sums: torch.Tensor | None = None  # summed SI-SDRi of every set of K outputs this validation
        self._set_count, self._set_refs = 0, 0  # references scored, K

    # ---- training ------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        size = batch["mixture"].shape[0]
        if self.supervised_step(self.global_step):
            loss = self.supervised_loss(batch).mean()
            self.log("train/supervised_loss", loss, batch_size=size)
        else:
            loss = self.mixit_objective(self.mixtures_of(batch)).mean()
            self.log("train/mixit_loss", loss, batch_size=size // 2)
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def supervised_step(self, step: int) -> bool:
        """Whether optimiser step ``step`` is supervised: evenly spread, a pure function of the step (resumable)."""
        return math.floor((step + 1) * self.ratio) > math.floor(step * self.ratio)

    def mixtures_of(self, batch: dict[str, Any]) -> torch.Tensor:
        """The two reference mixtures ``(B/2, 2, T)`` of each mixture of mixtures in the batch."""
        mix = batch["mixture"]
        half = mix.shape[0] // 2
        if half == 0 or mix.shape[0] % 2:
            raise ConfigError(f"mixit needs batches of an even size, got {mix.shape[0]}")
        if not self.enhance:
            return torch.stack([mix[:half], mix[half:]], 1)
        if "noise" not in batch:
            raise ConfigError("mixit enhancement needs items with a 'noise' signal (data type noisy_speech)")
        return torch.stack([mix[:half], batch["noise"][half:].to(mix.dtype)], 1)

    def project(self, est: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        """Training outputs, projected onto ``mixture`` when ``mixit.consistency`` asks for it."""
        if self.consistency == "none":
            return est
        return mixture_consistency(est, mixture, self.consistency)  # type: ignore[arg-type]

    def mixit_objective(self, mixtures: torch.Tensor) -> torch.Tensor:
        """Per-example MixIT loss ``(B,)`` of the network on the sums of ``mixtures`` ``(B, 2, T)``."""
        mom = mixtures.sum(1)
        est = self.project(self(mom), mom)
        return mixit_loss(est, mixtures, snr_max=self.snr_max, allowed=self.allowed)[0]

    def supervised_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """Per-example PIT loss ``(B,)`` on single mixtures: thresholded SNR, outputs without a reference to silence."""
        mix, ref = batch["mixture"], batch["sources"]
        est = self.project(self(mix), mix)
        spare = est.shape[1] - ref.shape[1]
        refs = torch.cat([ref, ref.new_zeros(ref.shape[0], spare, ref.shape[-1])], 1)  # (B, M, T)
        mix_energy = (mix.double() ** 2).sum(-1)  # (B,)

        def pairwise(e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
            active = (r.double() ** 2).sum(-1) > 0  # (B, M): inactive or padded references
            silent = 10 * torch.log10((e.double() ** 2).sum(-1) + SILENT_FLOOR * mix_energy[:, None] + EPS)
            pw = pairwise_thresholded_snr(e, r, snr_max=self.snr_max)
            return torch.where(active[:, None, :], pw, silent[:, :, None].to(pw.dtype))

        return pit_loss(est, refs, pairwise)[0]

    # ---- validation: which fixed outputs separate best -----------------------------------
    def validation_outputs(self, est: torch.Tensor, batch: dict[str, Any]) -> None:
        scores = fixed_set_scores(est, batch["sources"])  # (B, S)
        mix = batch["mixture"][:, None].expand_as(batch["sources"])
        baseline = -neg_si_sdr(mix, batch["sources"]).double().sum(-1)  # (B,): the unprocessed input
        sums = (scores - baseline[:, None]).sum(0)
        self._set_sums = sums if self._set_sums is None else self._set_sums + sums
        self._set_count += batch["sources"].shape[0] * batch["sources"].shape[1]
        self._set_refs = batch["sources"].shape[1]

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        self._set_sums, self._set_count = None, 0

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self._set_sums is None:
            return
        totals = torch.cat(
            [self._set_sums, torch.tensor([float(self._set_count)], dtype=torch.float64, device=self._set_sums.device)]
        )
        totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        means = totals[:-1] / totals[-1]
        best = int(means.argmax())
        self.log("val/si_sdri_fixed", means[best].float(), sync_dist=True)  # equal on every rank already
        if not self.trainer.sanity_checking:
            self.source_outputs = list(output_sets(int(self.net.n_src), self._set_refs)[2][best])

    # ---- checkpoints: the chosen outputs travel to export --------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.source_outputs is not None:
            checkpoint[SOURCE_OUTPUTS_KEY] = [int(k) for k in self.source_outputs]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get(SOURCE_OUTPUTS_KEY)
        if saved:
            self.source_outputs = [int(k) for k in saved]

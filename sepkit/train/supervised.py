"""Supervised training with permutation-invariant losses (Yu et al. 2017; Kolbæk et al. 2017).

The loss is a weighted sum of signal criteria (negative SI-SDR, SNR, SD-SDR) under the best
assignment of outputs to references, plus optional spectral terms on the assigned outputs
(multi-resolution STFT; power-law compressed spectrum). With one source the assignment is trivial and this is plain enhancement
training, so enhancement and separation share one code path. For separation the best
permutation of every training example is recorded (dataset index -> permutation) and the
fraction that changed since the previous epoch is logged as ``train/switch_rate`` and written to
``<output_dir>/switch_rate.csv``, the label-switching measure of Huang et al. (2021)
(``sepkit.train.switching``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from sepkit.errors import ConfigError
from sepkit.losses import (
    CompressedSpectrumLoss,
    MultiResolutionSTFTLoss,
    NegEstoiLoss,
    pairwise_neg_sd_sdr,
    pairwise_neg_si_sdr,
    pairwise_neg_snr,
    pit_loss,
    reorder,
)
from sepkit.train.config import section
from sepkit.train.module import TrainingModule, register_paradigm
from sepkit.train.switching import PermutationRecord, Record, append_csv

CRITERIA = {"si_sdr": pairwise_neg_si_sdr, "snr": pairwise_neg_snr, "sd_sdr": pairwise_neg_sd_sdr}
LOSS_KEYS: dict[str, Any] = {
    "si_sdr": 1.0,  # weights of the negative signal criteria (dB)
    "snr": 0.0,
    "sd_sdr": 0.0,
    "si_sdr_max": None,  # soft ceiling of the SI-SDR criterion in dB (e.g. 30): well-separated examples stop pulling
    "stft": 0.0,  # weight of MultiResolutionSTFTLoss on the assigned outputs
    "stft_resolutions": [[512, 128], [1024, 256], [256, 64]],
    "cspec": 0.0,  # weight of CompressedSpectrumLoss (power-law compressed complex + magnitude MSE)
    "cspec_under": 0.0,  # its magnitude errors where the estimate is quieter than the reference count 1 + this
    "cspec_over": 0.0,  # ... and where it is louder (noise left in) count 1 + this
    "estoi": 0.0,  # weight of negative ESTOI (sepkit.losses.intelligibility): keeps the speech envelope gains flatten
    "solver": "auto",  # PIT search: auto | exhaustive | hungarian
}
_RECORD_KEY = "sepkit_permutations"


@register_paradigm("supervised")
class SupervisedModule(TrainingModule):
    """PIT for K > 1 outputs, plain enhancement loss for K = 1; both with an optional MR-STFT term."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.loss_opts = section(config, "loss", LOSS_KEYS)
        self.weights = {name: float(self.loss_opts[name]) for name in CRITERIA if float(self.loss_opts[name]) != 0.0}
        if not self.weights:
            raise ConfigError("loss: give at least one of si_sdr, snr, sd_sdr a non-zero weight")
        self.criteria = dict(CRITERIA)
        if self.loss_opts["si_sdr_max"] is not None:
            self.criteria["si_sdr"] = partial(pairwise_neg_si_sdr, sdr_max=float(self.loss_opts["si_sdr_max"]))
        self.stft_weight = float(self.loss_opts["stft"])
        resolutions = [tuple(r) for r in self.loss_opts["stft_resolutions"]]
        self.stft = MultiResolutionSTFTLoss(resolutions, reduction="none") if self.stft_weight else None
        self.cspec_weight = float(self.loss_opts["cspec"])
        under, over = float(self.loss_opts["cspec_under"]), float(self.loss_opts["cspec_over"])
        for key, value in (("cspec_under", under), ("cspec_over", over)):
            if value < 0 or (value and not self.cspec_weight):
                raise ConfigError(f"loss.{key} must be >= 0 and needs loss.cspec > 0, got {value}")
        self.cspec = CompressedSpectrumLoss(under_weight=under, over_weight=over) if self.cspec_weight else None
        self.estoi_weight = float(self.loss_opts["estoi"])
        if self.estoi_weight < 0:
            raise ConfigError(f"loss.estoi must be >= 0, got {self.estoi_weight}")
        self.estoi = NegEstoiLoss(int(config["sample_rate"])) if self.estoi_weight else None
        self.permutations = PermutationRecord()  # best permutation per training example, per epoch

    def pairwise(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """The weighted pairwise criterion ``(B, K, N)``; a sum of pairwise matrices is itself one."""
        return sum(w * self.criteria[name](est, ref) for name, w in self.weights.items())  # type: ignore[return-value]

    def objective(self, est: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example loss ``(B,)`` and the best assignment ``(B, N)``."""
        loss, perm = pit_loss(est, ref, self.pairwise, solver=self.loss_opts["solver"])
        if self.stft is not None or self.cspec is not None or self.estoi is not None:
            with torch.autocast(device_type=est.device.type, enabled=False):
                assigned, ref = reorder(est, perm).float(), ref.float()
                if self.stft is not None:
                    loss = loss + self.stft_weight * self.stft(assigned, ref).mean(-1)  # (B, N) -> (B,)
                if self.cspec is not None:
                    loss = loss + self.cspec_weight * self.cspec(assigned, ref).mean(-1)
                if self.estoi is not None:
                    loss = loss + self.estoi_weight * self.estoi(assigned, ref).mean(-1)
        return loss, perm

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        est = self(batch["mixture"])
        loss, perm = self.objective(est, batch["sources"])
        loss = loss.mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=est.shape[0])
        if perm.shape[1] > 1:
            self.permutations.add(batch["index"].tolist(), perm.tolist())
        return loss

    def validation_loss(self, est: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return self.objective(est, batch["sources"])[0]

    def on_train_epoch_end(self) -> None:
        if not self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return  # stopped mid-epoch (max_steps): the epoch is not over, its record continues on resume
        count = self.permutations.end_epoch(self._gather(self.permutations.current))
        if count.rate is None:
            return
        self.log("train/switch_rate", count.rate, rank_zero_only=False)
        if self.trainer.is_global_zero:
            append_csv(self.config["output_dir"], self.current_epoch, self.global_step, count)

    def _gather(self, record: Record) -> Record:
        """The union of every rank's records (ranks see different examples, the same number of them)."""
        if self.trainer.world_size == 1 or not record:
            return dict(record)
        rows = torch.tensor([[i, *p] for i, p in sorted(record.items())], device=self.device)
        gathered = self.all_gather(rows).reshape(-1, rows.shape[1]).tolist()
        return {int(r[0]): tuple(int(v) for v in r[1:]) for r in gathered}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[_RECORD_KEY] = self.permutations.state(self._gather(self.permutations.current))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.permutations.load(checkpoint.get(_RECORD_KEY, {}))

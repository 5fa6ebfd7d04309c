"""Self-supervised pretraining of a shared encoder (docs/methods.md section 6): ``paradigm: ssl``, ``task: ssl``.

The network is an ``ssl_encoder``; ``ssl.objective`` picks what it learns from unlabelled audio
(the ``mixture`` of any dataset's items: clean or noisy speech alike):

    wav2vec2  contrastive prediction of Gumbel-quantised stem features at masked spans
    hubert    masked prediction of k-means clusters of MFCC (iteration 1) or of a previous
              HuBERT export's layer (iteration 2: ``ssl.hubert.targets: <export dir>``)
    tera      L1 reconstruction of altered log-mel frames (needs ``model.args.stem: logmel``)

The objective's heads (quantiser, projections, cluster embeddings, prediction head) live beside
the network and are checkpointed but not exported: the export is the encoder alone, with
``task: ssl``, which ``ssl_masker``/``ssl_blstm`` models load as their front end. HuBERT's
k-means is fitted once, when training first starts, on ``kmeans_items`` training items.
Validation logs the objective's loss (``val/loss``) and accuracy on the validation set, with
masks drawn from a fixed seed so that every validation sees the same ones.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
import torch.nn as nn

from sepkit.errors import ConfigError
from sepkit.train.config import section
from sepkit.train.module import TrainingModule, register_paradigm

OBJECTIVES = ("wav2vec2", "hubert", "tera")
SSL_KEYS: dict[str, Any] = {"objective": "wav2vec2", "wav2vec2": {}, "hubert": {}, "tera": {}}
WAV2VEC2_KEYS: dict[str, Any] = {
    "codebooks": 2,  # G
    "entries": 320,  # V per codebook
    "final_dim": 256,  # dimension of the compared vectors (and of the codes)
    "distractors": 100,  # K, from other masked steps of the same utterance
    "kappa": 0.1,  # cosine similarity temperature
    "mask_prob": 0.65,  # with span 10: about half the frames masked
    "mask_span": 10,
    "diversity_weight": 0.1,
    "penalty_weight": 10.0,  # × mean(stem features²)
    "diversity": "perplexity",  # perplexity (authors' code) | entropy (the paper's formula)
    "temperature": [2.0, 0.5, 0.999995],  # Gumbel start, floor, decay per step
}
HUBERT_KEYS: dict[str, Any] = {
    "targets": "mfcc",  # mfcc (iteration 1) | an exported HuBERT encoder (iteration 2)
    "layer": 6,  # iteration 2: the teacher layer that is clustered
    "clusters": 100,
    "final_dim": 256,
    "kappa": 0.1,
    "mask_prob": 0.8,
    "mask_span": 10,
    "penalty_weight": 10.0,
    "kmeans_items": 256,  # training items whose frames are clustered
    "kmeans_iterations": 50,
    "kmeans_max_frames": 100000,
}
TERA_KEYS: dict[str, Any] = {"time_prob": 0.15, "time_span": 7, "freq_max": 0.2, "noise_prob": 0.15, "noise_std": 0.2}
OBJECTIVE_KEYS = {"wav2vec2": WAV2VEC2_KEYS, "hubert": HUBERT_KEYS, "tera": TERA_KEYS}
KMEANS_KEYS = ("kmeans_items", "kmeans_iterations", "kmeans_max_frames")


def build_objective(name: str, opts: dict[str, Any], encoder: nn.Module) -> nn.Module:
    """The objective module ``name`` with its options (``ssl.<name>``) for ``encoder``."""
    from sepkit.ssl.hubert import HubertObjective
    from sepkit.ssl.tera import TeraObjective
    from sepkit.ssl.wav2vec2 import Wav2Vec2Objective

    args = {k: v for k, v in opts.items() if k not in KMEANS_KEYS}
    if name == "wav2vec2":
        if not isinstance(args["temperature"], (list, tuple)) or len(args["temperature"]) != 3:
            raise ConfigError(
                f"ssl.wav2vec2.temperature must be [start, floor, decay per step], not {args['temperature']!r}"
            )
        args["temperature"] = tuple(float(t) for t in args["temperature"])
    classes = {"wav2vec2": Wav2Vec2Objective, "hubert": HubertObjective, "tera": TeraObjective}
    try:
        return classes[name](encoder, **args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"ssl.{name}: {exc}") from exc


@register_paradigm("ssl")
class SslModule(TrainingModule):
    """Pretrains ``net`` (an SSL encoder) with the objective ``ssl.objective`` names (module doc)."""

    batch_keys = valid_keys = ("mixture",)  # unlabelled audio: no references are read

    def __init__(self, config: dict[str, Any]) -> None:
        if config.get("task") != "ssl":
            raise ConfigError(f"paradigm ssl needs task: ssl, not {config.get('task')!r}")
        super().__init__(config)
        if not all(hasattr(self.net, a) for a in ("stem_features", "context", "hop", "dim")):
            raise ConfigError(
                f"paradigm ssl needs an SSL encoder (model.arch: ssl_encoder), not {config['model']['arch']}"
            )
        self.opts = section(config, "ssl", SSL_KEYS)
        self.objective_name = self.opts["objective"]
        if self.objective_name not in OBJECTIVES:
            raise ConfigError(f"ssl.objective must be one of {', '.join(OBJECTIVES)}, not {self.objective_name!r}")
        keys = OBJECTIVE_KEYS[self.objective_name]
        self.objective_opts = section(self.opts, self.objective_name, keys, where="ssl.")
        self.objective = build_objective(self.objective_name, self.objective_opts, self.net)
        self.seed = int(config.get("seed") or 0)

    # ---- HuBERT targets -------------------------------------------------------------------
    def on_fit_start(self) -> None:
        targets = getattr(self.objective, "targets", None)
        if targets is None or bool(targets.fitted):  # not HuBERT, or restored from a checkpoint
            return
        opts = self.objective_opts
        self.objective.fit_targets(
            self._kmeans_audio(int(opts["kmeans_items"])),
            int(opts["kmeans_iterations"]),
            self.seed,
            int(opts["kmeans_max_frames"]),
        )
        # Every rank fitted the same data with the same seed; rank 0's centroids make that exact.
        targets.centroids.copy_(self.trainer.strategy.broadcast(targets.centroids, src=0))

    def _kmeans_audio(self, items: int) -> Iterator[torch.Tensor]:
        """The mixtures of the first ``items`` training items, one at a time."""
        dataset = self.trainer.datamodule.train_set
        for index in range(min(items, len(dataset))):
            yield torch.as_tensor(dataset[index]["mixture"], dtype=torch.float32)

    # ---- steps ----------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.objective(self.net, batch["mixture"], step=self.global_step)
        size = batch["mixture"].shape[0]
        for key, value in out.items():
            self.log(f"train/{key}", value, prog_bar=key == "loss", batch_size=size)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + batch_idx)  # the same masks every time
        out = self.objective(self.net, batch["mixture"], step=self.global_step, generator=generator)
        size = batch["mixture"].shape[0]
        for key, value in out.items():
            if key != "temperature":
                self.log(f"val/{key}", value.float(), batch_size=size, sync_dist=True, prog_bar=key == "loss")

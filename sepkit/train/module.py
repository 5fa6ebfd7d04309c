"""What every training paradigm shares: the network, the optimiser and schedule, and validation.

A paradigm (supervised PIT, MixIT, ...) subclasses ``TrainingModule``, adds its ``training_step``
and, where its objective differs, ``validation_loss``; it registers itself by name so that a
config's ``paradigm:`` picks it. Validation is the same for all: estimates are matched to the
references by the best permutation of SI-SDR (so models with extra outputs work too), and
``val/si_sdri`` is logged for every batch; PESQ/ESTOI (or any metric from ``sepkit.metrics``)
are computed on the first ``validation.metric_items`` items only, because they cost CPU time.
"""

from __future__ import annotations

import fnmatch
import importlib
import math
import warnings
from typing import Any, Callable

import lightning.pytorch as pl
import torch

import sepkit.models  # noqa: F401  (registers the architectures)
from sepkit.errors import ConfigError
from sepkit.losses import best_assignment, pairwise_neg_si_sdr, pit_loss, reorder
from sepkit.metrics.sisdr import si_sdr_torch
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig
from sepkit.train.config import section
from sepkit.train.time_plan import PLAN_FROM_TIME, TimePlannedSchedule
from sepkit.train.warm_start import InitSpec, init_spec

# Built-in paradigms by name -> the module that registers it (imported on first use).
BUILTIN_PARADIGMS = {
    "supervised": "sepkit.train.supervised",
    "mixit": "sepkit.train.mixit",
    "cae_mae": "sepkit.train.cae_mae",
    "personalize": "sepkit.train.personalize",
    "snr_estimator": "sepkit.train.snr_estimator_module",
    "ssl": "sepkit.train.ssl",
}
PARADIGMS: dict[str, type["TrainingModule"]] = {}

OPTIM_KEYS: dict[str, Any] = {
    "name": "adamw",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "betas": [0.9, 0.999],
    "lr_scale": {},  # {name pattern: factor}: those parameters of the network train at factor x lr (e.g. new ones)
    "scheduler": {},
}
SCHEDULER_KEYS: dict[str, Any] = {
    "name": "none",  # none | plateau | cosine | linear
    "warmup_steps": 0,  # linear warm-up (none, cosine, linear)
    "min_lr_ratio": 0.0,  # cosine, linear: final lr / lr
    "total_steps": 0,  # cosine, linear: the planned budget (0: this run's max_steps; max_time: fitted to it)
    "start_step": 0,  # cosine, linear: steps already spent by earlier runs this one warm-starts from
    "factor": 0.5,  # plateau
    "patience": 3,  # plateau: validations without improvement
    "monitor": "val/loss",  # plateau
    "mode": "min",  # plateau
}
VALIDATION_KEYS: dict[str, Any] = {"metric_items": 4, "metrics": ["pesq", "estoi"]}


def parameter_groups(module: torch.nn.Module, lr: float, lr_scale: dict[str, float]) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: every parameter at ``lr``, except those whose name (within the network,
    e.g. ``context_in.weight``) matches a pattern of ``lr_scale`` (``fnmatch``), at its factor times ``lr``.

    A warm start that adds new weights to a trained network can let them learn faster than the old ones move."""
    if not isinstance(lr_scale, dict) or not all(isinstance(f, (int, float)) and f > 0 for f in lr_scale.values()):
        raise ConfigError("optim.lr_scale must map parameter-name patterns to positive factors")
    groups: dict[float, list[torch.nn.Parameter]] = {}
    matched = dict.fromkeys(lr_scale, False)
    for name, param in module.named_parameters():
        local = name.removeprefix("net.")
        factor = 1.0
        for pattern, scale in lr_scale.items():
            if fnmatch.fnmatchcase(local, pattern):
                factor, matched[pattern] = float(scale), True
                break
        groups.setdefault(factor, []).append(param)
    if unmatched := [p for p, hit in matched.items() if not hit]:
        raise ConfigError(f"optim.lr_scale: no parameter of the network matches {', '.join(map(repr, unmatched))}")
    return [{"params": params, "lr": lr * factor} for factor, params in groups.items()]


def register_paradigm(name: str) -> Callable[[type["TrainingModule"]], type["TrainingModule"]]:
    """Class decorator: make a paradigm selectable as ``paradigm: <name>`` in a config."""

    def decorate(cls: type["TrainingModule"]) -> type["TrainingModule"]:
        PARADIGMS[name] = cls
        return cls

    return decorate


def paradigm_class(name: str) -> type["TrainingModule"]:
    """The LightningModule class registered as ``name``; ``ConfigError`` for an unknown one."""
    if name not in PARADIGMS and name in BUILTIN_PARADIGMS:
        importlib.import_module(BUILTIN_PARADIGMS[name])
    if name not in PARADIGMS:
        known = ", ".join(sorted(set(PARADIGMS) | set(BUILTIN_PARADIGMS)))
        raise ConfigError(f"unknown paradigm {name!r} (known: {known})")
    return PARADIGMS[name]


def build_network(config: dict[str, Any]) -> torch.nn.Module:
    """The network ``model:`` describes, at the run's sample rate, checked against ``task``."""
    args = model_args(config)
    net = build_model(config["model"]["arch"], **args)
    n_src = int(getattr(net, "n_src", 0))
    if int(getattr(net, "sample_rate", 0)) != int(config["sample_rate"]):
        rate = getattr(net, "sample_rate", None)
        raise ConfigError(f"model runs at {rate} Hz but sample_rate is {config['sample_rate']}")
    extra_outputs = paradigm_class(config.get("paradigm") or "supervised").selects_outputs
    if config["task"] == "enhance" and n_src != 1 and not extra_outputs:
        raise ConfigError(f"task enhance needs a model with 1 output, this one has {n_src} (set model.args.n_src=1)")
    if config["task"] == "separate" and n_src < 2:
        raise ConfigError(f"task separate needs a model with 2 or more outputs, this one has {n_src}")
    return net


def model_args(config: dict[str, Any]) -> dict[str, Any]:
    """``model.args`` with the run's ``sample_rate`` filled in (what ``config.json`` stores)."""
    args = dict(config["model"].get("args") or {})
    args.setdefault("sample_rate", int(config["sample_rate"]))
    return args


def output_count(net: torch.nn.Module) -> int:
    """What ``config.json`` records as ``n_src``: an enhancer's or separator's outputs; 1 for networks with one
    result per input and no sources (SNR estimators, SSL encoders), which have no ``n_src`` of their own."""
    return int(getattr(net, "n_src", 1))


def decay_progress(step: int, warmup: int, total: int, anchor: tuple[int, float] | None = None) -> float:
    """Progress (0..1) of a decay from the end of warm-up to ``total``; from ``anchor`` (step, progress) if re-planned."""
    start, done = anchor if anchor is not None else (warmup, 0.0)
    return min(1.0, done + (1.0 - done) * max(0, step - start) / max(1, total - start))


class TrainingModule(pl.LightningModule):
    """Base LightningModule: holds ``net`` and the resolved config; paradigms add ``training_step``.

    The batch contract: a batch is a dict of stacked items, and a paradigm declares the keys its
    steps read, ``batch_keys`` for training items and ``valid_keys`` for validation items (class
    attributes, or set per instance in ``__init__`` when options decide them), and checks one item
    against its network in ``check_item``. ``sepkit.train.run.check_data`` asks both before any
    compute is spent, so a dataset that lacks a key is a ``ConfigError`` naming it. The base keys
    are a separator's: ``mixture`` (T,) and ``sources`` (K, T), what the shared validation scores.
    """

    # True for paradigms whose networks have more outputs than the task has sources (MixIT): they
    # pick the source outputs themselves, so an enhancer may have several outputs.
    selects_outputs = False
    batch_keys: tuple[str, ...] = ("mixture", "sources")
    valid_keys: tuple[str, ...] = ("mixture", "sources")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        # Plain dicts only: checkpoints must load with torch.load(weights_only=True).
        self.save_hyperparameters({"config": config})
        self.config = config
        self.net = build_network(config)
        self.optim_opts = section(config, "optim", OPTIM_KEYS)
        self.sched_opts = section(self.optim_opts, "scheduler", SCHEDULER_KEYS, where="optim.")
        self.planned_total_steps: int | None = None  # the decay's total steps, once known
        # Where the decay was last re-planned: (budget step, progress there); progress runs on linearly from it
        # to 1 at planned_total_steps, so a re-plan changes the slope, never the rate (sepkit.train.time_plan).
        self.decay_anchor: tuple[int, float] | None = None
        self.valid_opts = section(config, "validation", VALIDATION_KEYS)
        self._metrics = self._metric_list(self.valid_opts["metrics"])
        self._metric_sums: dict[str, list[float]] = {}

    @staticmethod
    def _metric_list(names: Any) -> list[Any]:
        if not names:
            return []
        from sepkit.metrics.registry import get_metrics

        return get_metrics(names)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """Model outputs ``(B, K, T)`` for mixtures ``(B, T)``."""
        return self.net(mixture)

    # ---- the batch contract and the warm start -------------------------------------------
    def keys_for(self, where: str) -> tuple[str, ...]:
        """The item keys this paradigm reads from ``where`` (``data.train`` or ``data.valid``)."""
        return tuple(self.batch_keys if where == "data.train" else self.valid_keys)

    def check_item(self, item: dict[str, Any], where: str) -> None:
        """``ConfigError`` if one item of ``where`` cannot work with the network (its keys are known to be there).

        The base check: ``mixture`` (T,); where ``sources`` is read, (K, T) with K no more than the network's outputs.
        """
        mixture = torch.as_tensor(item["mixture"])
        if "sources" not in self.keys_for(where):
            if mixture.dim() != 1:
                raise ConfigError(f"{where} items must hold mixture (T,), got {tuple(mixture.shape)}")
            return
        sources = torch.as_tensor(item["sources"])
        if mixture.dim() != 1 or sources.dim() != 2 or sources.shape[-1] != mixture.shape[-1]:
            raise ConfigError(
                f"{where} items must hold mixture (T,) and sources (K, T), got {tuple(mixture.shape)} "
                f"and {tuple(sources.shape)}"
            )
        n_out = getattr(self.net, "n_src", None)
        if n_out is not None and sources.shape[0] > int(n_out):
            raise ConfigError(f"{where} has {sources.shape[0]} sources per item but the model has {int(n_out)} outputs")

    def init_spec(self) -> InitSpec | None:
        """The warm start this run asks for: the ``init:`` section (paradigms map their own keys onto it)."""
        return init_spec(self.config)

    # ---- validation ----------------------------------------------------------------------
    def validation_loss(self, est: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """Per-example validation loss ``(B,)``; paradigms override it with their own objective."""
        return pit_loss(est, batch["sources"], pairwise_neg_si_sdr)[0]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        mix, ref = batch["mixture"], batch["sources"]
        est = self(mix).float()
        loss = self.validation_loss(est, batch)
        matched = reorder(est, best_assignment(pairwise_neg_si_sdr(est, ref)))
        si_sdr = si_sdr_torch(matched, ref)
        si_sdri = si_sdr - si_sdr_torch(mix.unsqueeze(1).expand_as(ref), ref)
        size = mix.shape[0]
        self.log("val/loss", loss.mean(), batch_size=size, sync_dist=True)
        self.log("val/si_sdr", si_sdr.mean(), batch_size=size, sync_dist=True)
        self.log("val/si_sdri", si_sdri.mean(), batch_size=size, sync_dist=True, prog_bar=True)
        if self._metrics:
            self._score_first_items(matched, ref, batch["index"])
        self.validation_outputs(est, batch)

    def validation_outputs(self, est: torch.Tensor, batch: dict[str, Any]) -> None:
        """Hook: every validation batch's model outputs ``(B, K, T)``, for paradigms that track more."""

    def _score_first_items(self, est: torch.Tensor, ref: torch.Tensor, index: torch.Tensor) -> None:
        """Accumulate the costly metrics for items whose dataset index is below ``metric_items``."""
        from sepkit.metrics._common import MetricWarning

        rate = int(self.config["sample_rate"])
        for b in torch.nonzero(index < int(self.valid_opts["metric_items"])).flatten().tolist():
            for k in range(ref.shape[1]):
                e, r = est[b, k].detach().cpu().double().numpy(), ref[b, k].cpu().double().numpy()
                for metric in self._metrics:
                    with warnings.catch_warnings():  # e.g. PESQ finding no speech: NaN, skipped below
                        warnings.simplefilter("ignore", MetricWarning)
                        scores = metric.compute(e, r, rate)
                    for column, value in scores.items():
                        if math.isfinite(value):
                            total = self._metric_sums.setdefault(column, [0.0, 0.0])
                            total[0] += value
                            total[1] += 1

    def on_validation_epoch_start(self) -> None:
        self._metric_sums = {}

    def on_validation_epoch_end(self) -> None:
        columns = [c for m in self._metrics for c in m.columns]
        if not columns:
            return
        sums = torch.tensor([self._metric_sums.get(c, [0.0, 0.0]) for c in columns], dtype=torch.float64)
        sums = self.trainer.strategy.reduce(sums.to(self.device), reduce_op="sum").cpu()
        for column, (total, count) in zip(columns, sums.tolist()):
            if count > 0:
                self.log(f"val/{column}", total / count, sync_dist=True)  # equal on every rank already

    # ---- optimisation --------------------------------------------------------------------
    def configure_callbacks(self) -> list[pl.Callback]:
        """The callback that plans the decay over ``trainer.max_time`` when the schedule asks for it."""
        sched = self.sched_opts
        if sched["total_steps"] != PLAN_FROM_TIME:
            return []
        return [TimePlannedSchedule(int(sched["warmup_steps"]), int(sched["start_step"]))]

    def configure_optimizers(self) -> Any:
        opts, sched = self.optim_opts, self.sched_opts
        optimisers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
        if opts["name"] not in optimisers:
            raise ConfigError(f"optim.name must be one of {', '.join(optimisers)}, not {opts['name']!r}")
        optimiser = optimisers[opts["name"]](
            parameter_groups(self, float(opts["lr"]), opts["lr_scale"]),
            lr=float(opts["lr"]),
            weight_decay=float(opts["weight_decay"]),
            betas=tuple(float(b) for b in opts["betas"]),
        )
        name, warmup = sched["name"], int(sched["warmup_steps"])
        if name == "plateau":
            if warmup:
                raise ConfigError("optim.scheduler: warmup_steps is not supported with plateau")
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimiser, mode=sched["mode"], factor=float(sched["factor"]), patience=int(sched["patience"])
            )
            # Stepped once per training epoch with the latest validation value (strict=False: none yet is fine).
            schedule = {"scheduler": plateau, "monitor": sched["monitor"], "interval": "epoch", "strict": False}
            return {"optimizer": optimiser, "lr_scheduler": schedule}
        if name not in ("none", "cosine", "linear"):
            raise ConfigError(f"optim.scheduler.name must be none, plateau, cosine or linear, not {name!r}")
        if name == "none" and not warmup:
            return optimiser
        # A budget planned over several warm-started runs: this run's step 0 is step ``start_step`` of it.
        offset = int(sched["start_step"])
        if sched["total_steps"] == PLAN_FROM_TIME:  # set during the run by sepkit.train.time_plan
            self.planned_total_steps = None
        else:
            self.planned_total_steps = int(sched["total_steps"]) or offset + max(
                1, int(self.trainer.estimated_stepping_batches)
            )
        floor = float(sched["min_lr_ratio"])

        def factor(run_step: int) -> float:
            step = run_step + offset
            if step < warmup:
                return (step + 1) / warmup
            total = self.planned_total_steps
            if name == "none" or total is None:  # no decay, or its total not planned yet
                return 1.0
            progress = decay_progress(step, warmup, total, self.decay_anchor)
            if name == "linear":  # budgeted training (Li, Yumer, Ramanan 2020): decay to the floor at the budget
                return floor + (1 - floor) * (1 - progress)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        # A plain function: LambdaLR stores no state for it, which keeps checkpoints weights_only-safe.
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def decay_progress_at(self, step: int) -> float:
        """How far the decay has gone (0..1) at budget step ``step`` under the current plan."""
        assert self.planned_total_steps is not None
        return decay_progress(step, int(self.sched_opts["warmup_steps"]), self.planned_total_steps, self.decay_anchor)

    # ---- export --------------------------------------------------------------------------
    def model_config(self, name: str = "", inference: dict[str, Any] | None = None) -> ModelConfig:
        """How ``sepkit.load`` rebuilds and runs this network after export."""
        cfg = self.config
        return ModelConfig(
            arch=cfg["model"]["arch"],
            args=model_args(cfg),
            sample_rate=int(cfg["sample_rate"]),
            task=cfg["task"],
            n_src=output_count(self.net),
            name=name,
            inference=dict(inference or {}),
        )

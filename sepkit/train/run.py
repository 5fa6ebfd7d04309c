"""Run a training config end to end: seed, build, fit with checkpoints and logs, resume, export.

Paradigm-independent: the config's ``paradigm`` names the LightningModule, everything else
(data loaders, trainer, checkpoints, logs, resume, export) is the same for every paradigm.

Run folder (``output_dir``)::

    config.yaml             the resolved config of the latest (re)start
    curves.png              every logged metric against step, redrawn at each validation (``sepkit.train.curves``)
    init.json               with a warm start (``init.from``, or a paradigm's key mapped onto it): the tensors
                            copied from the pretrained model and those skipped
    switch_rate.csv         PIT paradigms: label-switching rate per epoch (``sepkit.train.switching``)
    checkpoints/last.ckpt   latest state; rerunning the same command resumes from it
    checkpoints/step-N.ckpt periodic (every ``checkpoint.every_n_train_steps``), the newest ``keep``
    checkpoints/best.ckpt   best ``checkpoint.monitor`` (default val/si_sdri)
    logs/version_K/         CSV metrics, one version per (re)start; tb/ for TensorBoard when installed
    export/                 the exported model (unless ``export.dir`` says otherwise)
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Sequence

import lightning.pytorch as pl
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities import rank_zero_only

from sepkit.errors import ConfigError
from sepkit.train.callbacks import CpuBudget, RestoreRNG, RunRecord, StopOnNonFinite, TrainingCurves
from sepkit.train.config import dump_config, lookup, section
from sepkit.train.checkpoint_file import load_checkpoint
from sepkit.train.datamodule import TrainingData
from sepkit.train.export import export_checkpoint, export_dir
from sepkit.train.loader import collate
from sepkit.train.module import TrainingModule, paradigm_class
from sepkit.train.warm_start import apply_init

BEST = "best"  # checkpoints/best.ckpt: the exported one
BUDGET_KEYS: dict[str, Any] = {"cpu_hours": None}
CHECKPOINT_KEYS: dict[str, Any] = {"every_n_train_steps": 1000, "keep": 2, "monitor": "val/si_sdri", "mode": "max"}
TRAINER_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "precision": "32-true",
    "log_every_n_steps": 50,
    "num_sanity_val_steps": 0,
}
# Set by the spine itself; a config that sets them would break resume or sharding.
TRAINER_RESERVED = ("logger", "callbacks", "default_root_dir", "use_distributed_sampler", "enable_checkpointing")
# Changing these between a run and its resume does not change the steps already taken.
RESUME_SAFE = ("trainer.max_steps", "trainer.max_epochs", "budget", "data.num_workers", "export")


def train(config: dict[str, Any], resume: bool = True, command: str = "", callbacks: Sequence[Callback] = ()) -> Path:
    """Train from a resolved config and export the best checkpoint; returns the export folder."""
    out = Path(config["output_dir"])
    last = out / "checkpoints" / "last.ckpt"
    resuming = last.is_file()
    if resuming and not resume:
        raise ConfigError(
            f"{out} already holds a run (checkpoints/last.ckpt): pass --resume or pick another output_dir"
        )
    pl.seed_everything(int(config.get("seed") or 0), workers=True, verbose=False)
    module = paradigm_class(config.get("paradigm") or "supervised")(config)
    spec = module.init_spec()
    if spec is not None and not resuming:  # a resumed run has its own weights in last.ckpt
        apply_init(module.net, spec, config["model"]["arch"], out if rank_zero_only.rank == 0 else None)
    data = TrainingData(config)
    check_data(module, data)
    record = RunRecord(command or "(Python API: sepkit.train.train)")
    budget = section(config, "budget", BUDGET_KEYS)
    limits = [CpuBudget(record, float(budget["cpu_hours"]))] if budget["cpu_hours"] is not None else []
    trainer = build_trainer(
        config, out, [*callbacks, RestoreRNG(), record, *limits, TrainingCurves(out), StopOnNonFinite()]
    )
    check_validation_interval(trainer, data)
    if trainer.is_global_zero:
        _write_config(config, out, resuming)
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if resuming else None, weights_only=True)
    if trainer.interrupted:
        raise KeyboardInterrupt
    trainer.save_checkpoint(
        last, weights_only=False
    )  # the final state: rerunning a finished command resumes at its end
    best = next(
        (
            Path(cb.best_model_path)
            for cb in trainer.checkpoint_callbacks
            if isinstance(cb, ModelCheckpoint) and cb.filename == BEST and cb.best_model_path
        ),
        last,
    )
    if trainer.is_global_zero:
        export_checkpoint(best, final=load_checkpoint(last))
    trainer.strategy.barrier("sepkit-export")
    return export_dir(config)


def check_data(module: TrainingModule, data: TrainingData) -> None:
    """Check one training (and validation) item against what the paradigm reads, before any compute is spent."""
    paradigm = module.config.get("paradigm") or "supervised"
    for where, dataset in (("data.train", data.train_set), ("data.valid", data.valid_set)):
        if dataset is None:
            continue
        item = dataset[0]
        keys = module.keys_for(where)
        missing = [key for key in keys if key not in item]
        if missing:
            kind = (lookup(module.config, where) or {}).get("type", "?")
            raise ConfigError(
                f"{where}: paradigm {paradigm} reads {', '.join(keys)} from every item, and this "
                f"{kind} dataset's items lack {', '.join(missing)} (they hold {', '.join(item)})"
            )
        module.check_item(item, where)
    batch = data.valid_batch_size() if data.valid_set is not None else 1
    if batch > 1:  # the first validation batch, stacked as the loader will: a failure shows here, not after training
        try:
            collate([data.valid_set[i] for i in range(min(batch, len(data.valid_set)))])
        except ConfigError as exc:
            raise ConfigError(f"data.valid_batch_size={batch}: {exc}") from exc


def check_validation_interval(trainer: pl.Trainer, data: TrainingData) -> None:
    """A step-count ``val_check_interval`` longer than an epoch needs ``check_val_every_n_epoch: null``."""
    interval = trainer.val_check_interval
    batches = len(data.train_set) // trainer.world_size // int(data.opts["batch_size"])  # type: ignore[arg-type]
    if isinstance(interval, int) and trainer.check_val_every_n_epoch is not None and interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} is longer than an epoch ({batches} batches): "
            "set trainer.check_val_every_n_epoch=null to validate every that many steps across epochs"
        )


def build_trainer(config: dict[str, Any], out: Path, callbacks: list[Callback]) -> pl.Trainer:
    """A ``lightning.Trainer`` from the ``trainer:`` section with sepkit's checkpoints and loggers."""
    given = dict(config.get("trainer") or {})
    accepted = inspect.signature(pl.Trainer.__init__).parameters
    for key in given:
        if key in TRAINER_RESERVED:
            raise ConfigError(f"trainer.{key} is set by sepkit itself (see the checkpoint: section and output_dir)")
        if key not in accepted:
            raise ConfigError(f"unknown key 'trainer.{key}' (not an argument of lightning.Trainer)")
    args = {**TRAINER_DEFAULTS, **given}
    ckpt = section(config, "checkpoint", CHECKPOINT_KEYS)
    ckpt_dir = out / "checkpoints"
    checkpoints: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="step-{step}",
            monitor="step",
            mode="max",
            save_top_k=int(ckpt["keep"]),
            every_n_train_steps=int(ckpt["every_n_train_steps"]),
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,  # a copied run folder resumes into its own last.ckpt, not last-v1.ckpt
        ),
    ]
    if lookup(config, "data.valid") is not None:
        checkpoints.append(
            ModelCheckpoint(
                dirpath=ckpt_dir,
                filename=BEST,
                monitor=ckpt["monitor"],
                mode=ckpt["mode"],
                save_top_k=1,
                auto_insert_metric_name=False,
                enable_version_counter=False,
            )
        )
    loggers = make_loggers(out, int(args["log_every_n_steps"]))
    extra = [LearningRateMonitor(logging_interval="step")]
    try:
        return pl.Trainer(
            default_root_dir=str(out),
            logger=loggers,
            callbacks=[*callbacks, *checkpoints, *extra],
            use_distributed_sampler=False,
            enable_checkpointing=True,
            **args,
        )
    except (TypeError, ValueError, MisconfigurationException) as exc:
        raise ConfigError(f"trainer: {' '.join(str(exc).split())}") from exc


def make_loggers(out: Path, every: int) -> list[Logger]:
    """CSV logs always (flushed as often as they are written), TensorBoard when it is installed."""
    loggers: list[Logger] = [CSVLogger(str(out), name="logs", flush_logs_every_n_steps=max(1, every))]
    try:
        from lightning.pytorch.loggers.tensorboard import _TENSORBOARD_AVAILABLE, TensorBoardLogger
    except ImportError:
        return loggers
    if _TENSORBOARD_AVAILABLE:
        loggers.append(TensorBoardLogger(str(out), name="tb", default_hp_metric=False))
    return loggers


def _write_config(config: dict[str, Any], out: Path, resuming: bool) -> None:
    """Write ``config.yaml``; on resume first say which settings changed since the run started."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.yaml"
    if resuming and path.is_file():
        import yaml

        before = yaml.safe_load(path.read_text()) or {}
        changed = [k for k in _diff(before, config) if not k.startswith(RESUME_SAFE)]
        if changed:
            print(f"sepkit: warning: resuming {out} with changed settings: {', '.join(changed)}", file=sys.stderr)
    path.write_text(dump_config(config))


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(dict.fromkeys([*a, *b]))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]

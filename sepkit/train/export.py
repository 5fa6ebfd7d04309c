"""Turn a training checkpoint into a pretrained-model folder (safetensors + config.json + CARD.md + the run's
curves.png).

The checkpoint carries everything needed: the resolved config (``hyper_parameters.config``),
the weights (``state_dict``, network under ``net.``) and the run record that ``RunRecord``
writes (validation scores, training time, device, command). It is read with
``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import torch
import yaml

from sepkit.atomic import AtomicFile
from sepkit.data.paths import portable
from sepkit.errors import ConfigError, SepkitError
from sepkit.pretrained import ModelConfig, count_parameters, export_model
from sepkit.train.average import AVERAGED_KEY, average_checkpoints, load_average_source
from sepkit.train.callbacks import RECORD_KEY
from sepkit.train.checkpoint_file import load_checkpoint
from sepkit.train.config import section
from sepkit.train.curves import CURVES, plot_curves
from sepkit.train.module import VALIDATION_KEYS, build_network, model_args, output_count

EXPORT_KEYS: dict[str, Any] = {
    "dir": None,  # default: <output_dir>/export
    "name": None,  # default: the output_dir's name
    "training_data": None,  # default: a summary of data.train
    "description": None,
    "inference": {},  # InferenceSettings for sepkit.load (chunk_seconds, batch_size, ...)
    "inference_only": False,  # export only what inference runs, for networks that can drop the rest (cae_mae)
}
# A checkpoint entry, set by paradigms whose networks have extra outputs (MixIT): the outputs that
# are the sources, written to config.json as ``source_outputs``.
SOURCE_OUTPUTS_KEY = "sepkit_source_outputs"


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path | None = None,
    final: dict[str, Any] | None = None,
    inference_only: bool | None = None,
    name: str | None = None,
    average: list[str | Path] | None = None,
) -> Path:
    """Export the network in ``ckpt_path`` with a model card; ``final``, the run's last checkpoint, gives its totals.

    ``inference_only`` (default: the config's ``export.inference_only``) drops the weights inference does not use;
    ``name`` (default: the config's ``export.name``) names the model, e.g. to score two checkpoints side by side;
    ``average`` lists more checkpoints (or model folders) of the same network whose weights are averaged with
    ``ckpt_path``'s.
    """
    net, model_cfg, card, config = checkpoint_model(ckpt_path, final, inference_only, name, average)
    out = Path(out_dir) if out_dir is not None else export_dir(config)
    curves = run_curves(Path(ckpt_path).resolve().parent.parent)
    if curves is not None:
        card += f"\n## Training curves\n\n![training curves]({CURVES})\n\nEvery metric the run logged, against step.\n"
    export_model(net, out, model_cfg, card)
    if curves is not None:
        with AtomicFile(out / CURVES, ".tmp") as copy:
            copy.path.write_bytes(curves.read_bytes())
    return out


def run_curves(run_dir: Path) -> Path | None:
    """The run's ``curves.png`` redrawn from its logs (a checkpoint's run folder holds ``checkpoints/`` and
    ``logs/``), or ``None`` when it logged nothing, so that an export carries the curves of its training."""
    if not (run_dir / "logs").is_dir():
        return None
    try:
        return plot_curves(run_dir)
    except SepkitError:  # nothing logged
        return None


def checkpoint_model(
    ckpt_path: str | Path,
    final: dict[str, Any] | None = None,
    inference_only: bool | None = None,
    name: str | None = None,
    average: list[str | Path] | None = None,
) -> tuple[torch.nn.Module, ModelConfig, str, dict[str, Any]]:
    """The network in ``ckpt_path`` (averaged with the checkpoints in ``average``, if any) with its weights, its
    ``config.json`` entries, its card and the run's config."""
    ckpt = load_checkpoint(ckpt_path)
    if average:
        others = [load_average_source(path, ckpt) for path in average]
        if final is None:  # the run's totals as of the newest checkpoint averaged
            final = max([ckpt, *others], key=lambda c: int(c.get("global_step", 0)))
        ckpt = average_checkpoints(ckpt, others)
    config = ckpt["hyper_parameters"]["config"]
    opts = section(config, "export", EXPORT_KEYS)
    if inference_only is not None:
        opts["inference_only"] = inference_only
    if name is not None:
        opts["name"] = name
    name = opts["name"] or Path(config["output_dir"]).name
    net = build_network(config)
    prefix = "net."
    net.load_state_dict({k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)})
    args = portable_args(net, model_args(config))
    if opts["inference_only"]:
        net, args = slim_network(net, args, config["model"]["arch"])
    outputs = ckpt.get(SOURCE_OUTPUTS_KEY)
    outputs = [int(k) for k in outputs] if outputs else None
    model_cfg = ModelConfig(
        arch=config["model"]["arch"],
        args=args,
        sample_rate=int(config["sample_rate"]),
        task=config["task"],
        n_src=len(outputs) if outputs else output_count(net),
        name=name,
        source_outputs=outputs,
        inference=dict(opts["inference"] or {}),
    )
    card = model_card(config, ckpt, final or ckpt, model_cfg, count_parameters(net), opts)
    return net, model_cfg, card, config


def portable_args(net: torch.nn.Module, args: dict[str, Any]) -> dict[str, Any]:
    """The build arguments ``config.json`` stores: a network whose arguments name other files (an SSL front end's
    encoder directory) replaces them by what it needs to rebuild itself (``export_args``)."""
    rewrite = getattr(net, "export_args", None)
    return rewrite(args) if callable(rewrite) else args


def slim_network(net: torch.nn.Module, args: dict[str, Any], arch: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network with only what inference runs (``inference_only``) and its build arguments."""
    slim = getattr(net, "inference_only", None)
    if not callable(slim):
        raise ConfigError(f"export.inference_only: {arch} has no inference-only form; export it whole")
    return slim(args)


def export_dir(config: dict[str, Any]) -> Path:
    """Where a run exports its model: ``export.dir``, by default ``<output_dir>/export``."""
    return Path((config.get("export") or {}).get("dir") or Path(config["output_dir"]) / "export")


def describe_data(spec: dict[str, Any] | None) -> str:
    """One line naming a dataset section: its type and scalar arguments (corpus paths as ``$SEPKIT_DATA/...``)."""
    if not spec:
        return "none"
    args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type" and not isinstance(v, (dict, list)))
    return portable(f"{spec.get('type', '?')} ({args})" if args else str(spec.get("type", "?")))


def model_card(
    config: dict[str, Any],
    best: dict[str, Any],
    final: dict[str, Any],
    model: ModelConfig,
    parameters: int,
    opts: dict[str, Any],
) -> str:
    """CARD.md: YAML front matter (data, scores, steps, time, device, command) and a short body."""
    record, totals = best.get(RECORD_KEY, {}), final.get(RECORD_KEY, {})
    scores = {k.removeprefix("val/"): round(v, 4) for k, v in record.get("val", {}).items() if k != "val/loss"}
    seconds = float(totals.get("train_seconds", 0.0))
    checked = section(config, "validation", VALIDATION_KEYS)
    names = checked["metrics"] if isinstance(checked["metrics"], list) else str(checked["metrics"]).split(",")
    scored_at = record.get("val_step")
    exported = int(best.get("global_step", 0))
    averaged = best.get(AVERAGED_KEY)
    if averaged:  # a new network, never validated: no scores of one of its parts stand for it
        scores, scored_at = {}, None
        if all(isinstance(step, int) for step in averaged):
            parts = f"the checkpoints at steps {', '.join(map(str, averaged))}"
        else:  # model folders are named, not numbered
            parts = ", ".join(f"model folder {step}" if isinstance(step, str) else f"step {step}" for step in averaged)
        note = f"an average of {parts}, not validated as such"
    elif not scores:
        note = "no validation scores recorded before the exported step"
    elif scored_at is None or int(scored_at) == exported:
        note = "validation set at the exported step"
    else:  # a periodic checkpoint is saved before its own step's validation
        note = f"validation set at step {int(scored_at)}, the last validation before the exported step"
    if names and scores:
        note += f"; {', '.join(n.upper() for n in names)} on its first {checked['metric_items']} items only"
    meta = {
        "name": model.name,
        "task": model.task,
        "arch": model.arch,
        "sample_rate": model.sample_rate,
        "n_src": model.n_src,
        **({"source_outputs": model.source_outputs} if model.source_outputs is not None else {}),
        "parameters": parameters,
        "training_data": opts["training_data"] or describe_data(config["data"].get("train")),
        "validation_data": describe_data(config["data"].get("valid")),
        "scores": scores,
        "scores_note": note,
        **({"scores_step": int(scored_at)} if scores and scored_at is not None else {}),
        "paradigm": config.get("paradigm") or "supervised",
        "steps": int(final.get("global_step", 0)),
        "exported_step": exported,
        **({"averaged_steps": list(averaged)} if averaged else {}),
        "epochs": totals.get("epochs"),  # passes over the training set
        "training_time": str(datetime.timedelta(seconds=round(seconds))),
        "training_seconds": round(seconds, 1),
        **({"training_cpu_seconds": round(float(totals["cpu_seconds"]), 1)} if "cpu_seconds" in totals else {}),
        "device": totals.get("device", ""),
        "precision": totals.get("precision", ""),
        "seed": int(config.get("seed") or 0),
        "command": portable(totals.get("command", "")),
    }
    purpose = {
        "enhance": "speech enhancement",
        "snr": "segmental SNR estimation (data purification)",
        "ssl": "self-supervised speech representations (a shared encoder for separator front ends)",
    }.get(model.task, f"{model.n_src}-speaker separation")
    description = opts["description"] or f"A {model.arch} model for {purpose}, trained with sepkit."
    front = yaml.safe_dump(meta, sort_keys=False, default_flow_style=None, width=1000)
    body = (
        f"# {model.name}\n\n{description}\n\n"
        f"Reproduce with:\n\n```bash\n{meta['command']}\n```\n\n"
        "`scores` above are on the run's validation data, not a test set. `sepkit evaluate MODEL --mix DIR "
        "--ref DIR --update-card` scores it on a test set (beside the unprocessed input and, for enhancement, "
        "noisereduce) and adds the table here.\n"
    )
    return f"---\n{front}---\n{body}"

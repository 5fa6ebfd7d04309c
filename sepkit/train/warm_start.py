"""Start a run from an exported model's weights, at the run's sample rate where the architecture allows it.

A base model (a shipped name such as ``enhance-default`` or an exported directory) is rebuilt at
its own rate and its weights copied into the run's network. When the run's rate differs, an
architecture that can change rate (``args_at_rate`` and ``load_from_rate``, e.g. ``fast_enhancer``)
is rebuilt at the run's rate with its weights mapped by frequency; any other architecture has to
run at the base's rate, and ``run_rate`` says so before a run is configured.

A config's ``init: {from, skip}`` section starts any run from a pretrained model's weights but
only where they fit (``init_weights``): tensors whose names match a ``skip`` pattern or whose
shapes differ are left as initialised and reported, e.g. the mask projection of a separator
initialised from a one-output denoiser (Huang et al. 2021); every other tensor must be present.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from sepkit.errors import ConfigError, SepkitError
from sepkit.models.registry import model_builder
from sepkit.pretrained import ModelConfig, load_network, read_config, resolve_model_dir

INIT_KEYS: dict[str, Any] = {
    "from": None,  # exported model (shipped name or folder) or a training checkpoint (.ckpt) of the same arch
    "skip": [],  # fnmatch patterns of tensor names to leave as initialised (shape mismatches are skipped anyway)
}
INIT_REPORT = "init.json"  # in the run folder: what was copied and what was skipped


def rate_adaptable(arch: str) -> bool:
    """Whether architecture ``arch`` can be rebuilt at another rate with its weights mapped."""
    builder = model_builder(arch)
    return builder is not None and hasattr(builder, "args_at_rate") and hasattr(builder, "load_from_rate")


def base_config(name_or_dir: str | os.PathLike[str]) -> ModelConfig:
    """The base model's ``config.json`` (shipped name or directory)."""
    return read_config(resolve_model_dir(name_or_dir))


def run_rate(base: ModelConfig, wanted: int) -> int:
    """The rate a run from ``base`` trains at: ``wanted`` if the base runs or can be rebuilt there, else the base's."""
    return wanted if wanted == base.sample_rate or rate_adaptable(base.arch) else base.sample_rate


def args_at(base: ModelConfig, sample_rate: int) -> dict[str, Any]:
    """The base's architecture arguments at ``sample_rate`` (its own arguments at its own rate)."""
    if sample_rate == base.sample_rate:
        return {**base.args, "sample_rate": base.sample_rate}
    if not rate_adaptable(base.arch):
        raise ConfigError(f"{base.name or base.arch}: architecture {base.arch} runs at {base.sample_rate} Hz only")
    return dict(model_builder(base.arch).args_at_rate(dict(base.args), sample_rate))  # type: ignore[attr-defined]


def warm_start(net: nn.Module, name_or_dir: str | os.PathLike[str], arch: str) -> ModelConfig:
    """Copy base model ``name_or_dir``'s weights into ``net`` (architecture ``arch``); returns the base's config."""
    base, config = load_network(name_or_dir)
    if config.arch != arch:
        raise ConfigError(f"init_from {name_or_dir}: it is a {config.arch} model, the run's model.arch is {arch}")
    rate = int(getattr(net, "sample_rate", config.sample_rate))
    if rate != config.sample_rate:
        if not rate_adaptable(arch):
            raise ConfigError(f"init_from {name_or_dir}: {arch} cannot change rate ({config.sample_rate} Hz) to the "
                              f"run's {rate} Hz; set sample_rate: {config.sample_rate}")
        try:
            net.load_from_rate(base)  # type: ignore[operator]
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"init_from {name_or_dir}: model.args do not fit its weights at {rate} Hz "
                              f"({' '.join(str(exc).split())[:160]})") from exc
        return config
    try:
        net.load_state_dict(base.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"init_from {name_or_dir}: model.args must equal the base model's {config.args} "
                          f"({' '.join(str(exc).split())[:160]})") from exc
    return config


@dataclass
class InitReport:
    """What ``init_weights`` did: tensors copied, skipped by pattern, skipped for their shape (run's, source's)."""

    source: str
    copied: list[str] = field(default_factory=list)
    skipped_by_name: list[str] = field(default_factory=list)
    skipped_by_shape: dict[str, list[list[int]]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the log, naming every skipped tensor."""
        shapes = ", ".join(f"{n} {tuple(a)} vs {tuple(b)}" for n, (a, b) in self.skipped_by_shape.items())
        return (f"init from {self.source}: copied {len(self.copied)} tensors; skipped by name: "
                f"{', '.join(self.skipped_by_name) or 'none'}; skipped by shape (run vs source): {shapes or 'none'}")


def source_weights(source: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], str, int]:
    """The network weights, architecture and sample rate of an exported model or a training checkpoint."""
    path = Path(source)
    if path.suffix == ".ckpt":
        from sepkit.train.export import load_checkpoint  # imports the training spine: only when needed

        ckpt = load_checkpoint(path)
        config = ckpt["hyper_parameters"]["config"]
        weights = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
        return weights, config["model"]["arch"], int(config["sample_rate"])
    try:
        net, model_config = load_network(source)
    except SepkitError as exc:
        raise ConfigError(f"init.from: {exc}") from exc
    return net.state_dict(), model_config.arch, model_config.sample_rate


def init_weights(net: nn.Module, source: str | os.PathLike[str], arch: str, skip: Sequence[str] = ()) -> InitReport:
    """Copy ``source``'s weights into ``net`` except names matching ``skip`` and tensors of another shape."""
    weights, source_arch, rate = source_weights(source)
    if source_arch != arch:
        raise ConfigError(f"init.from {source}: it is a {source_arch} model, the run's model.arch is {arch}")
    net_rate = int(getattr(net, "sample_rate", rate))
    if net_rate != rate:
        raise ConfigError(f"init.from {source}: it runs at {rate} Hz, the run at {net_rate} Hz")
    own = net.state_dict()
    missing, unexpected = sorted(own.keys() - weights.keys()), sorted(weights.keys() - own.keys())
    if missing or unexpected:
        raise ConfigError(f"init.from {source}: the networks differ in more than shapes (missing: "
                          f"{', '.join(missing[:5]) or 'none'}; unexpected: {', '.join(unexpected[:5]) or 'none'})")
    report = InitReport(str(source))
    merged = dict(own)
    for name, tensor in own.items():
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in skip):
            report.skipped_by_name.append(name)
        elif weights[name].shape != tensor.shape:
            report.skipped_by_shape[name] = [list(tensor.shape), list(weights[name].shape)]
        else:
            merged[name] = weights[name]
            report.copied.append(name)
    net.load_state_dict(merged, strict=True)
    return report


def init_from_config(net: nn.Module, config: dict[str, Any], run_dir: str | Path | None = None) -> InitReport | None:
    """Apply the config's ``init:`` section to ``net`` (no-op without ``init.from``); logs and writes ``init.json``."""
    from sepkit.train.config import section

    opts = section(config, "init", INIT_KEYS)
    if not opts["from"]:
        return None
    skip = [opts["skip"]] if isinstance(opts["skip"], str) else list(opts["skip"])
    report = init_weights(net, str(opts["from"]), config["model"]["arch"], skip)
    if run_dir is not None:
        print(f"sepkit: {report.summary()}", file=sys.stderr, flush=True)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / INIT_REPORT).write_text(json.dumps(asdict(report), indent=1) + "\n")
    return report

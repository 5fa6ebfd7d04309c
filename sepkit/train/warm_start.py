"""Start a run from existing weights: the one warm start of every paradigm, called by the training spine.

A config's ``init: {from, skip, into, strict}`` section names the source, an exported model (a
shipped name such as ``enhance-default``, or a folder) or a training checkpoint (``.ckpt``), and
``init_weights`` copies its weights where they fit: tensors whose names match a ``skip`` pattern or
whose shapes differ are left as initialised and reported, e.g. the mask projection of a separator
initialised from a one-output denoiser (Huang et al. 2021); every other tensor must be present.
``strict: true`` refuses any tensor that does not fit instead; ``into`` copies into one part of the
network (an ``enhancer_snr`` estimator's frozen ``enhancer``). When the run's rate differs from an
exported source's, an architecture that can change rate (``args_at_rate`` and ``load_from_rate``,
e.g. ``fast_enhancer``) takes all its weights mapped by frequency; any other has to run at the
source's rate, and ``run_rate`` says so before a run is configured.

Paradigms whose configs named their source elsewhere map those keys onto this one path
(``TrainingModule.init_spec``: ``personalize.init_from``, ``snr_estimator.enhancer_from``); the spine
applies the result once, before training starts (not on resume), and writes ``init.json``.
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
from sepkit.models.registry import available_models, model_builder
from sepkit.pretrained import ModelConfig, load_network, read_config, resolve_model_dir

INIT_KEYS: dict[str, Any] = {
    "from": None,  # exported model (shipped name or folder) or a training checkpoint (.ckpt) of the same arch
    "skip": [],  # fnmatch patterns of tensor names to leave as initialised (shape mismatches are skipped anyway)
    "into": None,  # a part of the network (e.g. enhancer_snr's enhancer) the weights go into; default all of it
    "strict": False,  # true: every tensor must be copied (a shape mismatch is an error, not a skip)
    "widen": False,  # true: a narrower source of the same arch is loaded into the wider net, output unchanged
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
    """Copy all of base model ``name_or_dir``'s weights into ``net`` (``init_weights`` with ``strict``, mapped by
    frequency when the rates differ and the architecture allows it); returns the base's config."""
    init_weights(net, name_or_dir, arch, strict=True, key="init_from")
    return base_config(name_or_dir)


@dataclass(frozen=True)
class InitSpec:
    """One warm start: copy ``source``'s weights into the run's network, or into its part ``into``.

    ``key`` is the config key that named the source (error messages and the log say it); ``strict``
    refuses a source any of whose tensors cannot be copied (instead of skipping and reporting them).
    """

    source: str
    skip: tuple[str, ...] = ()
    into: str = ""
    strict: bool = False
    key: str = "init.from"
    widen: bool = False


@dataclass
class InitReport:
    """What ``init_weights`` did: tensors copied, skipped by pattern, skipped for their shape (run's, source's).

    ``into`` names the part of the network the weights went into (empty: all of it); ``from_rate`` is
    the source's sample rate when its weights were mapped by frequency to the run's (``load_from_rate``).
    """

    source: str
    copied: list[str] = field(default_factory=list)
    skipped_by_name: list[str] = field(default_factory=list)
    skipped_by_shape: dict[str, list[list[int]]] = field(default_factory=dict)
    into: str = ""
    from_rate: int | None = None
    widened: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log, naming every skipped tensor."""
        shapes = ", ".join(f"{n} {tuple(a)} vs {tuple(b)}" for n, (a, b) in self.skipped_by_shape.items())
        where = f" into {self.into}" if self.into else ""
        mapped = f" (mapped from {self.from_rate} Hz)" if self.from_rate else ""
        mapped += f" ({len(self.widened)} of them widened)" if self.widened else ""
        return (
            f"init from {self.source}{where}: copied {len(self.copied)} tensors{mapped}; skipped by name: "
            f"{', '.join(self.skipped_by_name) or 'none'}; skipped by shape (run vs source): {shapes or 'none'}"
        )


def source_weights(source: str | os.PathLike[str], key: str = "init.from") -> tuple[dict[str, torch.Tensor], str, int]:
    """The network weights, architecture and sample rate of an exported model or a training checkpoint."""
    path = Path(source)
    if path.suffix == ".ckpt":
        from sepkit.train.checkpoint_file import load_checkpoint  # imports torch's loader: only when needed

        ckpt = load_checkpoint(path)
        config = ckpt["hyper_parameters"]["config"]
        weights = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
        return weights, config["model"]["arch"], int(config["sample_rate"])
    net, model_config = _exported(source, key)
    return net.state_dict(), model_config.arch, model_config.sample_rate


def _exported(source: str | os.PathLike[str], key: str) -> tuple[nn.Module, ModelConfig]:
    try:
        return load_network(source)
    except SepkitError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def arch_of(module: nn.Module) -> str | None:
    """The registered architecture name of ``module``'s class (``None`` when no architecture builds it)."""
    names = [name for name in available_models() if model_builder(name) is type(module)]
    return names[0] if names else None


def init_weights(
    net: nn.Module,
    source: str | os.PathLike[str],
    arch: str,
    skip: Sequence[str] = (),
    into: str = "",
    strict: bool = False,
    key: str = "init.from",
    widen: bool = False,
) -> InitReport:
    """Copy ``source``'s weights into ``net`` (or its part ``into``): the one warm start every run goes through.

    Names matching ``skip`` and tensors of another shape are left as initialised and reported, or with
    ``strict`` refused; a source at another rate is mapped by frequency where the architecture can be
    (``load_from_rate``). ``arch`` is the run's architecture, the one the source must have. ``widen``
    loads a narrower source of the same architecture into a wider network with its output unchanged
    (the architecture's ``load_widened``), every tensor copied into the first places of its own.
    """
    target = _part(net, into, key)
    wanted = arch_of(target) if into else arch  # a part no architecture builds: its tensor names decide
    weights, source_arch, rate = source_weights(source, key)
    if wanted is not None and source_arch != wanted:
        what = f"{into} (model.args.{into})" if into else "model.arch"
        raise ConfigError(f"{key} {source}: it is a {source_arch} model, the run's {what} is {wanted}")
    net_rate = int(getattr(target, "sample_rate", rate))
    if widen:
        if skip or net_rate != rate:
            raise ConfigError(
                f"{key} {source}: init.widen copies every tensor at the source's rate ({rate} Hz), no skip"
            )
        return _init_widened(target, source, weights, source_arch, into, key)
    if net_rate != rate:
        return _init_at_rate(target, source, source_arch, rate, net_rate, skip, into, key)
    own = target.state_dict()
    report = InitReport(str(source), into=into)
    prefix = f"{into}." if into else ""  # reports and skip patterns use the names in the run's network

    def skipped(name: str) -> bool:
        return any(fnmatch.fnmatchcase(prefix + name, pattern) for pattern in skip)

    # a part the run shapes differently (e.g. another layer count) may be skipped by name as a whole
    missing = sorted(n for n in own.keys() - weights.keys() if not skipped(n))
    unexpected = sorted(n for n in weights.keys() - own.keys() if not skipped(n))
    merged = dict(own)
    for name, tensor in own.items():
        if name in missing:
            continue
        if skipped(name):
            report.skipped_by_name.append(prefix + name)
        elif weights[name].shape != tensor.shape:
            report.skipped_by_shape[prefix + name] = [list(tensor.shape), list(weights[name].shape)]
        else:
            merged[name] = weights[name]
            report.copied.append(prefix + name)
    if strict and (missing or unexpected or report.skipped_by_shape):
        differ = [
            *(prefix + n for n in missing[:3]),
            *(prefix + n for n in unexpected[:3]),
            *list(report.skipped_by_shape)[:3],
        ]
        raise ConfigError(
            f"{key} {source}: model.args{'.' + into if into else ''} must equal the base model's "
            f"arguments (tensors that differ: {', '.join(differ)})"
        )
    if missing or unexpected:
        raise ConfigError(
            f"{key} {source}: the networks differ in more than shapes (missing: "
            f"{', '.join(missing[:5]) or 'none'}; unexpected: {', '.join(unexpected[:5]) or 'none'})"
        )
    target.load_state_dict(merged, strict=True)
    return report


def _part(net: nn.Module, into: str, key: str) -> nn.Module:
    """``net`` itself, or its submodule ``into``; ``ConfigError`` when it has none of that name."""
    if not into:
        return net
    try:
        return net.get_submodule(into)
    except AttributeError:
        raise ConfigError(f"{key}: the network has no part {into!r} to copy weights into") from None


def _init_at_rate(
    target: nn.Module,
    source: str | os.PathLike[str],
    arch: str,
    rate: int,
    net_rate: int,
    skip: Sequence[str],
    into: str,
    key: str,
) -> InitReport:
    """All of an exported model's weights, mapped by frequency from its ``rate`` to the run's ``net_rate``."""
    if not callable(getattr(target, "load_from_rate", None)) or Path(source).suffix == ".ckpt":
        raise ConfigError(
            f"{key} {source}: {arch} cannot change rate ({rate} Hz) to the run's {net_rate} Hz; set sample_rate: {rate}"
        )
    if skip:
        raise ConfigError(
            f"{key} {source}: its weights are mapped from {rate} Hz to {net_rate} Hz, all of them: "
            f"init.skip does not apply"
        )
    base, _ = _exported(source, key)
    try:
        target.load_from_rate(base)  # type: ignore[operator]
    except (RuntimeError, ValueError, SepkitError) as exc:
        raise ConfigError(
            f"{key} {source}: model.args do not fit its weights at {net_rate} Hz ({' '.join(str(exc).split())[:160]})"
        ) from exc
    prefix = f"{into}." if into else ""
    return InitReport(str(source), copied=[prefix + n for n in target.state_dict()], into=into, from_rate=rate)


def _init_widened(
    target: nn.Module, source: str | os.PathLike[str], weights: dict[str, torch.Tensor], arch: str, into: str, key: str
) -> InitReport:
    """All of a narrower model's weights in the first places of the run's wider tensors, output unchanged."""
    if not callable(getattr(target, "load_widened", None)):
        raise ConfigError(f"{key} {source}: init.widen needs an architecture that can be widened; {arch} cannot")
    try:
        widened = target.load_widened(weights)  # type: ignore[operator]
    except (RuntimeError, ValueError, KeyError, SepkitError) as exc:
        raise ConfigError(f"{key} {source}: model.args cannot widen it ({' '.join(str(exc).split())[:160]})") from exc
    prefix = f"{into}." if into else ""
    copied = [prefix + n for n in target.state_dict()]
    return InitReport(str(source), copied=copied, into=into, widened=[prefix + n for n in widened])


def init_spec(config: dict[str, Any]) -> InitSpec | None:
    """The warm start a config's ``init:`` section asks for (``None`` without ``init.from``)."""
    from sepkit.train.config import section

    opts = section(config, "init", INIT_KEYS)
    if not opts["from"]:
        return None
    skip = [opts["skip"]] if isinstance(opts["skip"], str) else list(opts["skip"])
    return InitSpec(
        str(opts["from"]), tuple(skip), str(opts["into"] or ""), bool(opts["strict"]), widen=bool(opts["widen"])
    )


def keyed_init_spec(config: dict[str, Any], key: str, source: Any, into: str = "") -> InitSpec | None:
    """The run's warm start where a paradigm's own key (``key``, e.g. ``personalize.init_from``) may name the source.

    ``key: X`` means ``init: {from: X, into: <into>, strict: true}``: all the source's weights, as those keys
    always copied them. Naming a source there and in ``init.from`` is a ``ConfigError``.
    """
    spec = init_spec(config)
    if not source:
        return spec
    if spec is not None:
        raise ConfigError(f"{key} and init.from both name a model to start from: keep init.from only")
    return InitSpec(str(source), into=into, strict=True, key=key)


def apply_init(net: nn.Module, spec: InitSpec, arch: str, run_dir: str | Path | None = None) -> InitReport:
    """Carry out ``spec`` on ``net`` (architecture ``arch``); with ``run_dir``, log it and write ``init.json``."""
    report = init_weights(net, spec.source, arch, spec.skip, spec.into, spec.strict, spec.key, spec.widen)
    if run_dir is not None:
        print(f"sepkit: {report.summary()}", file=sys.stderr, flush=True)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / INIT_REPORT).write_text(json.dumps(asdict(report), indent=1) + "\n")
    return report


def init_from_config(net: nn.Module, config: dict[str, Any], run_dir: str | Path | None = None) -> InitReport | None:
    """Apply the config's ``init:`` section to ``net`` (no-op without ``init.from``); logs and writes ``init.json``."""
    spec = init_spec(config)
    return None if spec is None else apply_init(net, spec, config["model"]["arch"], run_dir)

"""Training configs: a YAML file, the ``base:`` files it inherits, and ``key.path=value`` overrides.

A config is a plain nested dict (JSON-like), so it can be stored in checkpoints that load with
``weights_only=True`` and written back as ``config.yaml`` beside the run. Resolution order:
the ``base:`` chain (paths relative to the file that names them, later files win, dicts merge
key by key, lists are replaced), then the command-line overrides, then ``${dotted.key}``
references inside strings (e.g. ``${corpus}/speech_train.jsonl``). ``${data}`` is built in: the corpus
root of this machine (``$SEPKIT_DATA``, see ``sepkit.data.paths``), so recipes say
``corpus: ${data}/demo`` and name no machine's path; ``corpus=/elsewhere`` on the command line
still wins.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from sepkit.data.paths import data_root
from sepkit.errors import ConfigError

SECTIONS = {
    "task": "enhance | separate | snr | ssl",
    "paradigm": "training method, e.g. supervised",
    "sample_rate": "model and data rate in Hz",
    "seed": "seed for weights, data order and on-the-fly mixing",
    "corpus": "corpus root, referenced as ${corpus} in data paths; e.g. ${data}/demo (${data}: $SEPKIT_DATA)",
    "model": "{arch, args}",
    "init": "{from, skip, into, strict, widen}: start from a pretrained model's weights (into a part of the network), "
    "except names matching skip or of another shape (strict: refuse those instead; widen: load a narrower "
    "model into a wider one, output unchanged)",
    "data": "{train, valid, batch_size, valid_batch_size, num_workers}",
    "loss": "paradigm loss settings",
    "mixit": "{snr_max, consistency, semi_supervised_ratio, speech_outputs}: paradigm mixit",
    "cae_mae": "{schedule, cae_steps, mae_steps, cycle, latent_noise, resynthesize_cycle, weights}: paradigm cae_mae",
    "personalize": "{method, init_from, distance, lambda_pos, lambda_neg, phi, purify}: paradigm personalize",
    "snr_estimator": "{snr_floor, snr_ceil, enhancer_from}: paradigm snr_estimator (the segmental SNR targets)",
    "ssl": "{objective, wav2vec2, hubert, tera}: paradigm ssl (self-supervised encoder pretraining)",
    "optim": "{name, lr, weight_decay, betas, lr_scale, scheduler}",
    "trainer": "keyword arguments of lightning.Trainer",
    "checkpoint": "{every_n_train_steps, keep, monitor, mode}",
    "budget": "{cpu_hours}: stop at the first validation after this much training CPU time (summed over resumes)",
    "validation": "{metric_items, metrics}",
    "output_dir": "run folder: checkpoints, logs, config.yaml",
    "export": "{dir, name, training_data, description, inference}",
    "test": "{mix, ref}: the fixed test set a recipe's run.sh scores the exported model on",
}
REQUIRED = ("task", "sample_rate", "model", "data", "output_dir")
TASKS = ("enhance", "separate", "snr", "ssl")  # snr: segmental SNR estimators; ssl: self-supervised encoders
DATA_VARIABLE = "data"  # ${data}: the corpus root of this machine
_REF = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str) -> Any:
    """A YAML scalar (or flow list/dict) from the command line: ``20``, ``1e-3``, ``null``, ``[1, 2]``."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse value {text!r}: {_first_line(exc)}") from exc


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read, inherit, override, interpolate and check a training config."""
    cfg = _read_with_bases(Path(path), ())
    cfg = apply_overrides(cfg, overrides)
    cfg = interpolate(cfg)
    check_config(cfg, str(path))
    return cfg


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_first_line(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections, not {type(data).__name__}")
    return data


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"{path}: 'base' files form a cycle")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    bases = [base] if isinstance(base, str) else base
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: 'base' must be a file name or a list of file names")
    merged: dict[str, Any] = {}
    for name in bases:
        merged = merge(merged, _read_with_bases(path.parent / name, seen + (resolved,)))
    return merge(merged, data)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: dicts merge key by key, anything else in ``top`` replaces ``base``."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(cfg: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Set ``a.b.c=value`` entries (values parsed as YAML); intermediate sections are created."""
    out = copy.deepcopy(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
            node = child
        node[parts[-1]] = parse_value(text)
    return out


def lookup(cfg: dict[str, Any], key: str, default: Any = None) -> Any:
    """The value at dotted ``key``, or ``default`` when any part is missing or null."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return default
        node = node[part]
    return node


def interpolate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Replace ``${dotted.key}`` in strings with that key's value (a whole-string reference keeps the type)."""

    def resolve(value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, depth) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        if depth > 8:
            raise ConfigError(f"reference loop while resolving {value!r}")

        def target(key: str) -> Any:
            if key == DATA_VARIABLE:  # the built-in corpus root (the section is data.*, never ${data} whole)
                return str(data_root())
            found = lookup(cfg, key, _MISSING)
            if found is _MISSING:
                raise ConfigError(f"{value!r} refers to {key!r}, which is not set")
            return resolve(found, depth + 1)

        whole = _REF.fullmatch(value)
        if whole:
            return target(whole.group(1))
        return _REF.sub(lambda m: str(target(m.group(1))), value)

    return resolve(cfg, 0)


_MISSING = object()


def check_config(cfg: dict[str, Any], where: str) -> None:
    """Unknown top-level keys, missing required ones and basic types raise ``ConfigError`` naming the key."""
    for key in cfg:
        if key not in SECTIONS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(SECTIONS)})")
    for key in REQUIRED:
        if cfg.get(key) is None:
            raise ConfigError(f"{where}: missing required key {key!r} ({SECTIONS[key]})")
    if cfg["task"] not in TASKS:
        raise ConfigError(f"{where}: task must be one of {', '.join(TASKS)}, not {cfg['task']!r}")
    if not isinstance(cfg["sample_rate"], int) or cfg["sample_rate"] <= 0:
        raise ConfigError(f"{where}: sample_rate must be a positive integer, not {cfg['sample_rate']!r}")
    for key in (
        "model",
        "init",
        "data",
        "loss",
        "mixit",
        "cae_mae",
        "ssl",
        "optim",
        "trainer",
        "checkpoint",
        "budget",
        "validation",
        "export",
        "test",
    ):
        if cfg.get(key) is not None and not isinstance(cfg[key], dict):
            raise ConfigError(f"{where}: {key!r} must be a section (a mapping), not {cfg[key]!r}")
    if not isinstance(lookup(cfg, "model.arch"), str):
        raise ConfigError(f"{where}: missing required key 'model.arch'")
    if lookup(cfg, "data.train") is None:
        raise ConfigError(f"{where}: missing required key 'data.train'")


def dump_config(cfg: dict[str, Any]) -> str:
    """YAML text of a resolved config (written as ``config.yaml`` in the run folder)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)


def section(cfg: dict[str, Any], name: str, known: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Section ``name`` with defaults filled in; an unknown key raises ``ConfigError`` naming it (under ``where``)."""
    given = cfg.get(name) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"'{where}{name}' must be a section (a mapping), not {given!r}")
    for key in given:
        if key not in known:
            raise ConfigError(f"unknown key '{where}{name}.{key}' (known: {', '.join(known)})")
    return {**known, **{k: v for k, v in given.items() if v is not None}}


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())

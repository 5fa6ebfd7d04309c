"""Pretrained-model directories: ``model.safetensors`` + ``config.json`` + ``CARD.md``.

Weights load without pickle. A shipped model is found by name under the model roots
(``$SEPKIT_PRETRAINED``, then the shipped models: ``sepkit/shipped_models/`` in an installed
wheel, the repository's ``pretrained/`` in a checkout or editable install; setup.py maps one to
the other); any other exported directory loads by path.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sepkit.atomic import AtomicFile
from sepkit.errors import ModelError

if TYPE_CHECKING:  # torch loads only when a network does, so `sepkit models` reads cards without it
    import torch.nn as nn

DEFAULT_ENHANCER = "enhance-default"  # the shipped model `sepkit enhance` and `sepkit.load()` use
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "CARD.md"
ONNX_FILE = "model.onnx"  # what sepkit export --format onnx writes beside config.json and CARD.md
LOUDEST = "loudest"  # source_outputs: pick the n_src loudest outputs of each chunk
BALANCED = "balanced"  # source_outputs: sum the outputs of each chunk in n_src groups of most alike energy
OUTPUT_RULES = (LOUDEST, BALANCED)
TASKS = ("enhance", "separate", "snr", "ssl")  # snr: segmental SNR estimators, ssl: encoders; training only


@dataclass
class ModelConfig:
    """What ``config.json`` holds: how to rebuild the network and how to run it."""

    arch: str
    args: dict[str, Any]
    sample_rate: int
    task: str
    n_src: int
    name: str = ""
    # For models with more outputs than sources (MixIT): which outputs are the sources, as a fixed
    # list, "loudest": in every chunk the n_src outputs of most energy, or "balanced": in every chunk
    # the outputs summed in n_src groups whose energies are most alike (sepkit.inference.output_groups).
    source_outputs: list[int] | str | None = None
    inference: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "ModelConfig":
        missing = [k for k in ("arch", "args", "sample_rate", "task", "n_src") if k not in data]
        if missing:
            raise ModelError(f"{where}: config.json lacks {', '.join(missing)}")
        if data["task"] not in TASKS:
            raise ModelError(f"{where}: task must be one of {TASKS}, not {data['task']!r}")
        picks = data.get("source_outputs")
        if isinstance(picks, str) and picks not in OUTPUT_RULES:
            rules = " or ".join(repr(r) for r in OUTPUT_RULES)
            raise ModelError(f"{where}: source_outputs must be a list of output indices, {rules}, not {picks!r}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def model_roots() -> list[Path]:
    """Folders searched for shipped models, in order."""
    roots = [Path(p) for p in os.environ.get("SEPKIT_PRETRAINED", "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    installed = here / "shipped_models"  # the wheel's package data (setup.py)
    roots.append(installed if installed.is_dir() else here.parent / "pretrained")
    return roots


def shipped_models() -> dict[str, Path]:
    """Name -> directory of every model found under the model roots (first root wins)."""
    found: dict[str, Path] = {}
    for root in model_roots():
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if (d / CONFIG_FILE).is_file() and d.name not in found:
                found[d.name] = d
    return found


def resolve_model_dir(name_or_dir: str | os.PathLike[str]) -> Path:
    """A model directory from a shipped name or a path; a clear error for anything else."""
    path = Path(name_or_dir)
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise ModelError(f"{path}: not a sepkit model directory (no {CONFIG_FILE})")
        return path
    shipped = shipped_models()
    if str(name_or_dir) in shipped:
        return shipped[str(name_or_dir)]
    known = ", ".join(shipped) or "none shipped"
    raise ModelError(f"unknown model {str(name_or_dir)!r}: not a shipped name ({known}) nor a model directory")


def read_config(model_dir: Path) -> ModelConfig:
    """Parse and check a model directory's ``config.json``."""
    try:
        data = json.loads((model_dir / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{model_dir / CONFIG_FILE}: unreadable ({exc})") from exc
    return ModelConfig.from_dict(data, str(model_dir))


def split_card(text: str) -> tuple[str, str] | None:
    """A card's text as (its YAML front matter between the ``---`` lines, its Markdown body), or None without one."""
    match = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, re.S)
    return (match.group(1), match.group(2)) if match else None


def read_card(model_dir: Path) -> tuple[dict[str, Any], str]:
    """The card's YAML front matter (task, data, scores, ...) and its Markdown body."""
    path = model_dir / CARD_FILE
    if not path.is_file():
        return {}, ""
    text = path.read_text()
    parts = split_card(text)
    if parts is None:
        return {}, text
    try:
        meta = yaml.safe_load(parts[0]) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), parts[1]


def write_config(model_dir: Path, config: ModelConfig) -> None:
    """Write ``config.json`` into a model directory, atomically, as every sepkit model folder holds it."""
    with AtomicFile(model_dir / CONFIG_FILE, ".tmp") as config_file:
        config_file.path.write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def load_network(
    name_or_dir: str | os.PathLike[str], arch_args: dict[str, Any] | None = None
) -> tuple[nn.Module, ModelConfig]:
    """Rebuild an exported network and load its weights (safetensors: no pickle).

    ``arch_args`` replace those of ``config.json`` for this load (the returned config holds the result), e.g. a
    ``fast_enhancer``'s gain post-processing; the weights must still fit the network they build.
    """
    from safetensors.torch import load_model

    from sepkit.models import build_model
    from sepkit.models.base import first_non_finite

    model_dir = resolve_model_dir(name_or_dir)
    config = read_config(model_dir)
    if arch_args:
        config.args = {**config.args, **arch_args}
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        onnx = " (it holds an ONNX export: run it with --backend onnx)" if (model_dir / ONNX_FILE).is_file() else ""
        raise ModelError(f"{model_dir}: no {WEIGHTS_FILE}{onnx}")
    net = build_model(config.arch, **config.args)
    try:
        # load_model restores tensors that save_model wrote once for several tied names
        load_model(net, str(weights), strict=True, device="cpu")
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{weights}: cannot load weights ({exc})") from exc
    spoilt = first_non_finite(net.state_dict().items())
    if spoilt is not None:
        raise ModelError(f"{weights}: weight {spoilt} is NaN or infinite (exported from a diverged run?)")
    net.eval()
    return net, config


def export_model(
    net: nn.Module,
    out_dir: str | os.PathLike[str],
    config: ModelConfig,
    card: str | None = None,
) -> Path:
    """Write a model directory that ``sepkit.load`` reads; files are replaced atomically."""
    from safetensors.torch import save_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # save_model keeps one copy of tied (shared) weights, which save_file refuses
    cpu_net = copy.deepcopy(net).cpu()
    with AtomicFile(out / WEIGHTS_FILE, ".tmp") as weights:
        save_model(cpu_net, str(weights.path), metadata={"arch": config.arch})
    write_config(out, config)
    if card is not None:
        with AtomicFile(out / CARD_FILE, ".tmp") as card_file:
            card_file.path.write_text(card)
    return out


def count_parameters(net: nn.Module) -> int:
    """Number of trainable and frozen parameters."""
    return sum(p.numel() for p in net.parameters())


__all__ = [
    "ModelConfig",
    "export_model",
    "load_network",
    "read_card",
    "read_config",
    "resolve_model_dir",
    "shipped_models",
    "split_card",
    "write_config",
    "count_parameters",
]

"""Retiring a shipped model: keep it, renamed, in an archive folder as a base for later recipes.

When a new model replaces a shipped one (``pretrained/enhance-default``), the old weights stay in the
repository, not in the wheel, so configs that warm-started from them (``init.from``) still reproduce. The copy
gets a new name in ``config.json`` and in its card, whose front matter says ``shipped: false`` and when and by
what it was replaced. Everything else in the folder (weights, curves, the card's body) is kept byte for byte.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from sepkit.atomic import AtomicFile, staged_folder
from sepkit.errors import ModelError
from sepkit.pretrained import CARD_FILE, CONFIG_FILE, read_config, resolve_model_dir, split_card, write_config


def retired_name(name: str, tag: str) -> str:
    """The archive name of model ``name`` retired with ``tag``, e.g. ``enhance-default-stage20``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", tag):
        raise ModelError(f"retire tag {tag!r}: use letters, digits, '.', '_' or '-' (e.g. stage20)")
    return f"{name}-{tag}"


def _retired_body(body: str, name: str, new_name: str, notice: str) -> str:
    """The card's body under its new title, the retirement notice first; the account itself kept as it was."""
    lines = body.split("\n")
    titles = [i for i, line in enumerate(lines) if line.startswith("# ")]
    if not titles:
        return f"{notice}\n\n{body}"
    i = titles[0]
    title = lines[i][2:]
    if title.startswith(f"{name} ("):
        title = f"{new_name} (retired; {title[len(name) + 2 :]}"
    elif title == name:
        title = f"{new_name} (retired)"
    else:
        title = f"{new_name} (retired): {title}"
    lines[i : i + 1] = [f"# {title}", "", notice, ""]
    return "\n".join(lines)


def _retired_card(text: str, name: str, new_name: str, note: str, notice: str) -> str:
    """The card with its front matter's ``name`` and ``shipped`` lines rewritten and the notice in its body."""
    parts = split_card(text)
    if parts is None:
        raise ModelError(f"{CARD_FILE}: no YAML front matter (--- ... ---) to mark the model retired in")
    front, body = parts
    shipped = f"shipped: false  # {note}"
    lines = [line for line in front.split("\n") if not re.match(r"shipped\s*:", line)]
    named = [i for i, line in enumerate(lines) if re.match(r"name\s*:", line)]
    if named:
        lines[named[0]] = f"name: {new_name}"
        lines.insert(named[0] + 1, shipped)
    else:
        lines[:0] = [f"name: {new_name}", shipped]
    return "---\n" + "\n".join(lines) + "\n---\n" + _retired_body(body, name, new_name, notice)


def _repointed(config: Path, source: Path, new: str) -> str:
    """The text of recipe config ``config`` with its ``init.from`` (naming the model folder ``source``) set to ``new``.

    Comments and layout are kept. ``ModelError`` unless the config's own ``init.from`` (a base file's is not
    followed) names that model, by shipped name or path.
    """
    try:
        text = config.read_text()
        old = ((yaml.safe_load(text) or {}).get("init") or {}).get("from")
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ModelError(f"{config}: not a readable recipe config ({exc})") from exc
    try:
        same = isinstance(old, str) and resolve_model_dir(old).resolve() == source.resolve()
    except ModelError:
        same = False
    if not same:
        raise ModelError(f"{config}: its init.from is {old!r}, not the model being retired ({source}); nothing done")
    pattern = re.compile(r"(\bfrom\s*:\s*)(['\"]?)" + re.escape(old) + r"\2(?=\s*[,}#]|\s*$)", re.M)
    edited, count = pattern.subn(lambda m: m.group(1) + new, text, count=1)
    if not count or ((yaml.safe_load(edited) or {}).get("init") or {}).get("from") != new:
        raise ModelError(f"{config}: cannot find the init.from line to rewrite; nothing done")
    return edited


def retire_model(
    model: str | os.PathLike[str],
    archive: str | os.PathLike[str],
    tag: str,
    replaced_by: str,
    date: str,
    repoint: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Copy ``model`` (a shipped name or a folder) to ``archive/<name>-<tag>``, renamed and marked not shipped.

    Each config in ``repoint``, whose ``init.from`` names the model, is pointed at the copy. The source is left
    as it is (the caller replaces it with the new model). Every check runs before anything is written; an archive
    folder that exists is never overwritten; the copy appears whole or not at all, each config is replaced whole.
    """
    source = resolve_model_dir(model)
    config = read_config(source)
    name = config.name or source.name
    new_name = retired_name(name, tag)
    target = Path(archive) / new_name
    if target.exists():
        raise ModelError(f"{target}: already exists; choose another tag or remove it first")
    edits = {Path(c): _repointed(Path(c), source, target.as_posix()) for c in repoint}
    note = f"{name} on {date} until {replaced_by} replaced it; kept in the repository as a base, not in the wheel"
    notice = (
        f"Retired on {date}: {replaced_by} replaced it as `{name}`. Its account below is as it was when it shipped."
    )
    with staged_folder(target) as stage:
        for item in sorted(source.iterdir()):
            if item.is_file() and item.name not in (CONFIG_FILE, CARD_FILE):
                shutil.copy2(item, stage / item.name)
        write_config(stage, dataclasses.replace(config, name=new_name))
        card = source / CARD_FILE
        if card.is_file():
            (stage / CARD_FILE).write_text(_retired_card(card.read_text(), name, new_name, note, notice))
    for config, text in edits.items():
        with AtomicFile(config, ".tmp") as out:
            out.path.write_text(text)
    return target


__all__ = ["retire_model", "retired_name"]

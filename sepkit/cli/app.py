"""The typer application object and the error policy every command shares.

User errors (``SepkitError``) print one line on stderr and exit 2; ``--debug`` shows the
traceback instead. Commands register themselves on ``app`` (or ``data_app``) on import.

How to add a command (``sepkit --help`` and every ``--help`` must start without torch):
  1. write it in a module of this package with ``@app.command()`` (or ``@data_app.command("name")``);
  2. at the module's top import only the standard library, typer and light sepkit modules
     (``sepkit.cli.app``, ``sepkit.errors``, ``sepkit.pretrained``, ``sepkit.data.paths``);
     import everything else (torch, numpy, the API, training, metrics) inside the function;
  3. add the module's name to ``COMMAND_MODULES`` below.
tests/test_cli_startup.py runs every command's ``--help`` and fails if torch was imported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

# every module that registers commands, imported (cheaply) by sepkit.cli.main before parsing
COMMAND_MODULES = ("enhance", "score", "evaluate", "models", "data", "train", "personalize")

app = typer.Typer(
    name="sepkit",
    help="Speech enhancement and separation: enhance, separate, score, train.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Build manifests and corpora.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")


class _State:
    debug = False
    argv: list[str] = []  # the command's arguments, for records such as model cards


state = _State()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Speech enhancement and separation toolkit."""
    state.debug = debug


def report(message: str) -> None:
    """Print one error line on stderr (the CLI's only way to report a bad input)."""
    text = " ".join(str(message).split())  # one line, always
    print(f"sepkit: error: {text}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Report and exit with ``code``."""
    report(message)
    raise typer.Exit(code)
